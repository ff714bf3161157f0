// `moekit demo`: the Top-P paper's experiment in miniature. Four models — dense, Top-1 (Switch), Top-2
// (renormalised) and Top-P (p = 0.4 with the paper's load-balance and entropy losses) — trained on the
// bundled Brown corpus with the same data order, token budget and seed; then a table, summary.json and
// report.html. Runs live in OUT/runs/<model>; a rerun skips finished models and resumes a stopped one.
import { resolve } from 'node:path';
import { parseRunConfig, type RunConfig } from '../train/config.js';
import { rawPreset } from '../train/presets.js';
import type { Command } from './command.js';
import { parseFlags, stringFlag } from './args.js';
import { THREADS_FLAG, applyThreadsFlag } from './threads_flag.js';
import { resultsTable, runPlan, type PlanModel } from './compare.js';

/** Training schedule of a demo plan (applied to the preset's train section). */
interface DemoScale {
  preset: string;
  experts: number;
  train: Record<string, number>;
}

// Default: 300 steps × 2048 tokens per model. Measured on this project's 2-core AVX-512 machine: the
// 240-step plan took 188 s when the machine was otherwise idle and 373 s while other jobs shared it, so
// 300 steps take ≈ 4 min idle and ≈ 8 min shared.
const DEFAULT: DemoScale = {
  preset: 'small', experts: 8,
  train: { steps: 300, warmup_steps: 30, eval_interval: 50, eval_batches: 8, checkpoint_interval: 50, log_interval: 10 },
};
const QUICK: DemoScale = {
  preset: 'small', experts: 8,
  train: { steps: 24, batch_size: 8, warmup_steps: 4, eval_interval: 8, eval_batches: 2, checkpoint_interval: 24, log_interval: 4 },
};
// For tests only (MOEKIT_DEMO_SCALE=test): the tiny preset, a few steps.
const TEST: DemoScale = {
  preset: 'tiny', experts: 4,
  train: { steps: 6, batch_size: 4, warmup_steps: 1, eval_interval: 3, eval_batches: 1, checkpoint_interval: 6, log_interval: 3 },
};

export function demoModels(scale: DemoScale): PlanModel[] {
  const base = rawPreset(scale.preset);
  const model = base.model as Record<string, unknown>;
  const trainSection = { ...(base.train as Record<string, unknown>), ...scale.train };
  const make = (name: string, description: string, moe: Record<string, unknown> | null): PlanModel => {
    const run: RunConfig = parseRunConfig({ ...base, model: { ...model, ...(moe ?? {}) }, train: trainSection }, `demo ${name}`);
    return { name, description, run };
  };
  const E = scale.experts;
  return [
    make('dense', `dense (${scale.preset} preset)`, null),
    make('top1', `Top-1 (Switch), ${E} experts`, { num_experts: E, router: { type: 'switch' } }),
    make('top2', `Top-2 (GShard-style, renormalised, k = 2), ${E} experts`, { num_experts: E, router: { type: 'top_k', k: 2, renormalize: true } }),
    make('top_p', `Top-P (p = 0.4, LB 1e-2, entropy 1e-4), ${E} experts`,
      { num_experts: E, router: { type: 'top_p', top_p: 0.4, load_balance_coef: 1e-2, entropy_coef: 1e-4 } }),
  ];
}

export const demo: Command = {
  name: 'demo',
  summary: 'dense vs Top-1 vs Top-2 vs Top-P on the bundled corpus → table, summary.json, report.html',
  usage: `moekit demo [--quick] [--out DIR] [--threads N]

The Top-P paper's comparison in miniature: trains four models on the bundled Brown corpus (500
documents, 15 genres; whole documents of every genre held out for validation) with the same data
order, token budget and seed — dense (the "small" preset: 4 layers, d = 128, vocab 4096), Top-1
(Switch), Top-2 (renormalised) and Top-P (p = 0.4, load-balance 1e-2, entropy 1e-4), each MoE layer
with 8 experts as wide as the dense FFN. Prints validation loss, perplexity, mean activated experts,
activated parameters per token and training tokens/s; writes DIR/summary.json and DIR/report.html
(self-contained; opens from disk) and prints the report's path. Opens nothing.

  --quick       a smoke check: 24 small steps per model (about 35 s on 2 cores)
  --out DIR     output directory (default runs/demo, or runs/demo-quick with --quick)
  --threads N   kernel threads (default: all cores)

The default plan (300 steps × 2048 tokens per model) takes 4–8 minutes on 2 cores. Rerunning skips
finished models and resumes a stopped one from its last checkpoint; Ctrl-C stops after the current
step and writes a checkpoint.`,
  async run(argv) {
    const { values } = parseFlags('demo', argv, { quick: { type: 'boolean' }, out: { type: 'string' }, ...THREADS_FLAG });
    applyThreadsFlag('demo', values);
    const scale = process.env.MOEKIT_DEMO_SCALE === 'test' ? TEST : values.quick ? QUICK : DEFAULT;
    const models = demoModels(scale);
    const outDir = resolve(stringFlag(values.out) ?? (values.quick ? 'runs/demo-quick' : 'runs/demo'));
    const notes = [
      'A miniature of the Top-P paper (2403.07652: 24 layers, 16 experts, 100B tokens): a few layers, 8 experts and well under a million training tokens. ' +
      'Differences between the models here are a property of this scale and budget, not a test of the paper\'s numbers.',
    ];
    if (values.quick || scale === TEST) notes.push('This is a --quick smoke run: a few steps per model. Its numbers say that the pipeline works, not how the routers compare.');
    const result = await runPlan(models, {
      outDir, seeds: [models[0].run.train.seed], label: 'demo', kind: 'demo', notes, tasks: 'brown-cloze',
      data: 'bundled Brown corpus (500 documents, 15 genres; 10% of each genre\'s documents held out for validation)',
    });
    process.stdout.write(`\n${resultsTable(result.summary)}\n\n`);
    for (const f of result.summary.findings) process.stdout.write(`${f.claim}: ${f.status}. ${f.detail}\n`);
    process.stdout.write(`\nwall time ${result.wall_s.toFixed(1)} s\nsummary: ${result.summaryPath}\nreport:  ${result.reportPath}\n`);
  },
};
