// `moekit demo`: train a small LLaMA-style model on the bundled Brown corpus and report how it did.
import { resolve } from 'node:path';
import { backend } from '../backend/index.js';
import { parseRunConfig } from '../train/config.js';
import { rawPreset } from '../train/presets.js';
import type { Command } from './command.js';
import { intFlag, parseFlags, stringFlag } from './args.js';
import { trainWithProgress } from './train.js';

export const demo: Command = {
  name: 'demo',
  summary: 'train a small model on the bundled Brown corpus and report validation loss',
  usage: `moekit demo [--quick] [--out DIR] [--threads N] [--resume]

Trains the "small" preset (4 layers, d=128, vocab 4096) on the bundled Brown corpus (500 documents,
15 genres; whole documents of every genre held out for validation) and prints validation loss,
perplexity and throughput. --quick trains a few steps only (a smoke check). Results go to --out
(default runs/demo): an HF model directory plus metrics.jsonl.`,
  async run(argv) {
    const { values } = parseFlags('demo', argv, {
      quick: { type: 'boolean' }, out: { type: 'string' }, threads: { type: 'string' }, resume: { type: 'boolean' },
    });
    const threads = intFlag('demo', 'threads', values.threads);
    if (threads) backend().setThreads(threads);
    const raw = rawPreset('small');
    const trainSection = raw.train as Record<string, unknown>;
    if (values.quick) Object.assign(trainSection, { steps: 60, warmup_steps: 10, eval_interval: 30, checkpoint_interval: 60 });
    const run = parseRunConfig(raw, 'demo');
    const outDir = resolve(stringFlag(values.out) ?? (values.quick ? 'runs/demo-quick' : 'runs/demo'));
    const started = performance.now();
    const result = await trainWithProgress(run, outDir, Boolean(values.resume), 'demo');
    const wall = (performance.now() - started) / 1000;
    // Training throughput: the median of the logged windows (evaluation and data preparation excluded).
    const rates = result.metrics.map((r) => r.tok_per_s as number).filter(Number.isFinite).sort((a, b) => a - b);
    const tokPerS = rates.length > 0 ? rates[Math.floor(rates.length / 2)] : NaN;
    const rows = [
      ['model', 'params', 'steps', 'tokens', 'val loss', 'val ppl', 'tok/s (train)'],
      ['dense (small)', result.model.parameterCount().toLocaleString('en-US'), String(result.steps),
        result.tokens.toLocaleString('en-US'), result.finalValLoss?.toFixed(4) ?? '--',
        result.finalValLoss !== null ? Math.exp(result.finalValLoss).toFixed(2) : '--',
        Number.isFinite(tokPerS) ? Math.round(tokPerS).toLocaleString('en-US') : '--'],
    ];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    const table = rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n');
    process.stdout.write(`\n${table}\n\nwall time ${wall.toFixed(1)} s; run directory ${outDir}\n`);
  },
};
