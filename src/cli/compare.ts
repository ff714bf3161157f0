// `moekit compare`: train several run configurations on identical data and token budget, each with N
// seeds, and write summary.json + report.html. Also home of the plan runner `moekit demo` uses: one
// run directory per (model, seed) under OUT/runs/, finished runs skipped, unfinished ones resumed, one
// progress bar and ETA over the whole plan; Ctrl-C checkpoints the current run and ends the plan, a rerun continues.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ConfigError, MoekitError } from '../tensor/index.js';
import { parseRunConfig, type RunConfig } from '../train/config.js';
import { hasCheckpoint } from '../train/checkpoint.js';
import { ensureWritableDir, train } from '../train/trainer.js';
import { buildTrainData, type BuiltData } from '../train/data.js';
import { DecoderLM } from '../models/index.js';
import { loadModel } from '../io/load.js';
import { Tokenizer, ValidBatches } from '../data/index.js';
import { evaluateModel } from '../eval/evaluate.js';
import { evaluateTasks, readTaskFile, resolveTaskFile } from '../eval/tasks.js';
import { keyDifferences, paperFindings, readMetrics, summarizeModel, SUMMARY_VERSION, type ModelInput, type Summary } from '../eval/summary.js';
import { renderReport } from '../eval/report.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Command } from './command.js';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';
import { THREADS_FLAG, applyThreadsFlag } from './threads_flag.js';
import { ProgressBar, formatDuration } from './progress.js';
import { backendLabel } from './train.js';

/** One model of a plan: a validated run configuration (its seed is replaced per run). */
export interface PlanModel {
  name: string;
  description: string;
  run: RunConfig;
}

export interface PlanOptions {
  outDir: string;
  seeds: number[];
  label: string;
  kind: 'demo' | 'compare';
  /** Data description for the page. */
  data: string;
  notes?: string[];
  /** Multiple-choice task file (or bundled name) to score every run on after training. */
  tasks?: string;
}

export interface PlanResult {
  summary: Summary;
  summaryPath: string;
  reportPath: string;
  wall_s: number;
}

/** A run directory name safe on every filesystem. */
export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80) || 'model';
}

export function describeRun(run: RunConfig): { router: string | null; description: string } {
  const m = run.model;
  const size = `${m.num_hidden_layers} layers, d = ${m.hidden_size}`;
  if (!m.moe) return { router: null, description: `dense, ${size}, FFN ${m.intermediate_size}` };
  const r = m.moe.router as unknown as Record<string, unknown>;
  const experts = Array.isArray(m.moe.num_experts) ? m.moe.num_experts.join('/') : String(m.moe.num_experts);
  const opts: string[] = [];
  if (r.type === 'top_p') opts.push(`p = ${r.top_p}`);
  if (typeof r.k === 'number') opts.push(`k = ${r.k}`);
  if (r.renormalize === true) opts.push('renormalised');
  if (typeof r.load_balance_coef === 'number' && r.load_balance_coef > 0) opts.push(`LB ${r.load_balance_coef}`);
  if (typeof r.entropy_coef === 'number' && r.entropy_coef > 0) opts.push(`entropy ${r.entropy_coef}`);
  return { router: String(r.type), description: `${String(r.type)}${opts.length ? ` (${opts.join(', ')})` : ''}, ${experts} experts × ${m.moe.moe_intermediate_size}, ${size}` };
}

function withSeed(run: RunConfig, seed: number): RunConfig {
  return { ...run, train: { ...run.train, seed } };
}

type RunState = 'done' | 'partial' | 'new';

/** Has this run directory a finished run of exactly this configuration? Refuses a different one. */
function runState(dir: string, run: RunConfig): RunState {
  if (!hasCheckpoint(dir)) return 'new';
  const runJson = join(dir, 'run.json');
  if (existsSync(runJson)) {
    let saved: unknown;
    try {
      saved = JSON.parse(readFileSync(runJson, 'utf8'));
    } catch {
      saved = null;
    }
    if (JSON.stringify(saved) !== JSON.stringify(run)) {
      throw new MoekitError(`${dir} holds a run with a different configuration`, 'choose another --out, or delete that run directory');
    }
  }
  const last = readMetrics(dir).filter((r) => typeof r.val_loss === 'number').at(-1);
  return last && last.step >= run.train.steps ? 'done' : 'partial';
}

/** Train every (model, seed) not yet finished, then gather summary.json and render report.html. */
export async function runPlan(models: PlanModel[], opts: PlanOptions): Promise<PlanResult> {
  const started = performance.now();
  ensureWritableDir(opts.outDir);
  const runs = models.flatMap((m) => opts.seeds.map((seed) => ({
    model: m, seed, run: withSeed(m.run, seed),
    dir: join(opts.outDir, 'runs', opts.seeds.length > 1 ? `${safeName(m.name)}-seed${seed}` : safeName(m.name)),
  })));
  const states = runs.map((r) => runState(r.dir, r.run)); // refuses foreign run dirs before any training
  const total = runs.reduce((s, r) => s + r.run.train.steps, 0);
  let offset = 0; // plan steps before the current run
  let skipped = 0; // plan steps not trained in this invocation (finished or resumed-from)
  // Ctrl-C: the current run stops after its step and writes a checkpoint (the trainer yields to the event
  // loop between steps); finished runs are complete, and a rerun resumes the plan. A second Ctrl-C exits.
  let stop = false;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write(`\n${opts.label}: stopping after this step and writing a checkpoint (Ctrl-C again to abort now)\n`);
  };
  process.on('SIGINT', onSigint);
  const bar = new ProgressBar(opts.label, total);
  for (let i = 0; i < runs.length; i++) {
    const r = runs[i];
    const tag = `${r.model.name}${opts.seeds.length > 1 ? ` seed ${r.seed}` : ''} (${i + 1}/${runs.length})`;
    const evaluated = existsSync(join(r.dir, 'eval.json')) && (!opts.tasks || existsSync(join(r.dir, 'tasks.json')));
    if (states[i] === 'done') {
      bar.log(`${opts.label}: ${tag} already finished in ${r.dir}; skipped`);
      skipped += r.run.train.steps;
      offset += r.run.train.steps;
      bar.resumeFrom(skipped);
      if (evaluated) continue;
    }
    ensureWritableDir(r.dir);
    let stage = '';
    const data = buildTrainData(r.run, {
      outDir: opts.outDir, // shared data-cache: the tokenizer is trained once per seed
      onProgress: (s, f) => {
        if (s !== stage) {
          stage = s;
          bar.log(`${opts.label}: preparing data (${s})`);
        }
        void f;
      },
    });
    let lastVal = '';
    const result = states[i] !== 'done' ? await train(r.run, data, {
      outDir: r.dir, resume: states[i] === 'partial', shouldStop: () => stop,
      events: {
        onStart: (info) => {
          skipped += info.startStep;
          bar.resumeFrom(skipped);
          bar.log(`${opts.label}: ${tag}: ${info.parameters.toLocaleString('en-US')} parameters, ${info.tokensPerStep.toLocaleString('en-US')} tokens/step, ` +
            `backend ${backendLabel()}${info.startStep > 0 ? `, resuming at step ${info.startStep}` : ''}`);
        },
        onStep: (rec) => {
          if (rec.val_loss !== undefined) lastVal = (rec.val_loss as number).toFixed(3);
          bar.update(offset + rec.step, {
            model: tag, loss: (rec.train_loss as number).toFixed(3), ...(lastVal ? { val: lastVal } : {}),
            ...(typeof rec.mean_k === 'number' ? { 'k̄': rec.mean_k.toFixed(2) } : {}),
          });
        },
      },
    }) : null;
    if (result?.stopped) {
      bar.finish();
      process.off('SIGINT', onSigint);
      throw new MoekitError(`stopped by Ctrl-C at step ${result.steps} of ${tag}; finished runs are complete and this one is checkpointed`,
        'rerun the same command to continue the plan');
    }
    if (states[i] !== 'done') offset += r.run.train.steps;
    evaluateRun(r.dir, r.run, data, opts.tasks);
  }
  process.off('SIGINT', onSigint);
  bar.finish();
  const wall = (performance.now() - started) / 1000;
  process.stderr.write(`${opts.label}: plan done in ${formatDuration(wall)}\n`);

  const inputs: ModelInput[] = models.map((m) => {
    const d = describeRun(m.run);
    const totalParams = new DecoderLM(m.run.model, { seed: 0 }).parameterCount();
    return {
      name: m.name, description: m.description || d.description, router: d.router,
      runs: runs.filter((r) => r.model === m).map((r) => ({ seed: r.seed, dir: r.dir, totalParams })),
    };
  });
  const summarized = inputs.map(summarizeModel);
  const t = models[0].run.train;
  const budget = summarized[0]?.runs[0]?.tokens ?? t.steps * t.batch_size * t.seq_len * t.grad_accum;
  const summary: Summary = {
    version: SUMMARY_VERSION,
    kind: opts.kind,
    created: new Date().toISOString(),
    measured: `${models.length} model${models.length > 1 ? 's' : ''} × ${opts.seeds.length} seed${opts.seeds.length > 1 ? 's' : ''}, each trained on the same data in the same order ` +
      `for the same token budget, then evaluated on the same held-out validation batches. Validation loss is the mean cross-entropy per token; ` +
      `experts per token, expert load and the k histogram are measured by routing those validation batches; activated parameters per token = ` +
      `non-expert parameters + (experts per token × parameters per expert); throughput is the median of the logged training windows on this machine.` +
      (opts.seeds.length > 1 ? ' Results are mean ± sample standard deviation over seeds.' : ' One seed per model: the seed-to-seed spread was not measured.'),
    data: opts.data,
    token_budget: budget,
    seeds: opts.seeds,
    backend: backendLabel(),
    wall_s: wall,
    models: summarized,
    differences: keyDifferences(summarized),
    findings: paperFindings(summarized),
    notes: opts.notes ?? [],
  };
  const summaryPath = join(opts.outDir, 'summary.json');
  const reportPath = join(opts.outDir, 'report.html');
  writeFileAtomic(summaryPath, JSON.stringify(summary, null, 2) + '\n');
  writeReport(summaryPath, reportPath);
  return { summary, summaryPath, reportPath, wall_s: wall };
}

const EVAL_BATCHES = 64;

/**
 * evaluateModel on the run's final weights and up to 64 validation batches spread over the validation set:
 * per-genre and per-difficulty-decile experts per token, saved as <run>/eval.json.
 */
function evaluateRun(dir: string, run: RunConfig, data: BuiltData, tasks?: string): void {
  const { model, tokenizerPath } = loadModel(dir);
  if (tasks) {
    const file = resolveTaskFile(tasks);
    if (!tokenizerPath) throw new MoekitError(`${dir} has no tokenizer.json to score the tasks with`);
    const { scores: _perItem, ...scored } = evaluateTasks(model, Tokenizer.load(tokenizerPath), readTaskFile(file), file);
    writeFileAtomic(join(dir, 'tasks.json'), JSON.stringify(scored) + '\n');
  }
  const t = run.train;
  const all = new ValidBatches(data.prepared.valid, { seqLen: t.seq_len, batchSize: t.batch_size });
  // More of the validation set than a training evaluation (every source appears), capped for large data.
  const n = Math.min(all.count, Math.max(t.eval_batches, EVAL_BATCHES));
  const batches = Array.from({ length: n }, (_, i) => all.batch(Math.floor((i * all.count) / n)));
  const ev = evaluateModel(model, { batches, seqLen: t.seq_len, sources: data.prepared.sources });
  writeFileAtomic(join(dir, 'eval.json'), JSON.stringify(ev) + '\n');
}

/** Render report.html from summary.json (the page's single source). */
export function writeReport(summaryPath: string, reportPath: string): void {
  const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as Summary;
  writeFileAtomic(reportPath, renderReport(summary));
}

/** The results table printed by demo and compare. */
export function resultsTable(s: Summary): string {
  const pm = (mean: number, std: number | null, d: number) => (Number.isFinite(mean) ? (std === null ? mean.toFixed(d) : `${mean.toFixed(d)} ± ${std.toFixed(d)}`) : '--');
  const rows = [['model', 'val loss', 'val ppl', 'experts/token', 'activated params/token', 'tok/s (train)']];
  for (const m of s.models) {
    rows.push([
      m.name, pm(m.val_loss.mean, m.val_loss.std, 4), pm(m.val_ppl.mean, m.val_ppl.std, 2),
      m.mean_k ? pm(m.mean_k.mean, m.mean_k.std, 2) : 'dense',
      Math.round(m.activated_params.mean).toLocaleString('en-US'),
      m.tok_per_s ? Math.round(m.tok_per_s.mean).toLocaleString('en-US') : '--',
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

/** Read and validate one compare config file; errors name the file. */
function loadConfig(path: string): RunConfig {
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new ConfigError(`${path}: is a directory, expected a run config JSON file`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new UsageError(`moekit compare: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (text.trim() === '') throw new ConfigError(`${path}: the file is empty`, 'a run config is a JSON object with a "model" section');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseRunConfig(raw, path);
}

export const compare: Command = {
  name: 'compare',
  summary: 'train several configs on identical data and budget, N seeds each → summary.json + report.html',
  usage: `moekit compare CONFIG... [--seeds N] [--tokens N] [--seed S] [--out DIR] [--threads N]

Trains every run configuration (JSON files as for \`moekit train --config\`) on the same data, in the same
order, for the same token budget, each with N seeds (seed S, S+1, ... S+N-1; the seed sets initialisation,
data order and the train/validation split, identically for every config), then writes
DIR/summary.json (the measured numbers) and DIR/report.html (charts, rendered from summary.json only).

  --seeds N     seeds per config (default 1; results are mean ± std over seeds when N > 1)
  --tokens N    training tokens per run: steps = N / (batch_size · seq_len · grad_accum) of each config
                (default: each config's own train.steps)
  --seed S      first seed (default: the first config's train.seed)
  --out DIR     output directory (default runs/compare); runs go to DIR/runs/<config name>[-seedS]
  --threads N   kernel threads (default: all cores)

Rerunning the same command skips finished runs and resumes unfinished ones from their checkpoint;
Ctrl-C stops the current run after its step and writes a checkpoint: finished runs are kept, and the
next run of the same command continues the stopped one from there.`,
  async run(argv) {
    const { values, positionals } = parseFlags('compare', argv, {
      seeds: { type: 'string' }, tokens: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, ...THREADS_FLAG,
    }, true);
    if (positionals.length === 0) throw new UsageError('moekit compare: give at least one run config file', 'moekit compare a.json b.json --seeds 3');
    const seeds = intFlag('compare', 'seeds', values.seeds) ?? 1;
    const tokens = intFlag('compare', 'tokens', values.tokens);
    const seed0 = intFlag('compare', 'seed', values.seed, 0);
    applyThreadsFlag('compare', values);
    const names = new Set<string>();
    const models: PlanModel[] = positionals.map((file) => {
      let run = loadConfig(file);
      const name = safeName(basename(file).replace(/\.json$/i, ''));
      if (names.has(name)) throw new UsageError(`moekit compare: two configs are named "${name}"; give them different file names`);
      names.add(name);
      if (tokens !== undefined) {
        const perStep = run.train.batch_size * run.train.seq_len * run.train.grad_accum;
        const steps = Math.floor(tokens / perStep);
        if (steps < 1) {
          throw new UsageError(`moekit compare: --tokens ${tokens} is less than one training step of ${file} (${perStep} tokens: batch_size × seq_len × grad_accum), too small for one evaluation`);
        }
        run = fitSteps(run, steps);
      }
      return { name, description: '', run };
    });
    // Identical data: every config must read the same corpus with the same split.
    const data0 = JSON.stringify(models[0].run.data);
    for (const m of models.slice(1)) {
      if (JSON.stringify(m.run.data) !== data0) throw new UsageError(`moekit compare: ${m.name} has a different "data" section from ${models[0].name}; compared runs must train on identical data`);
    }
    const budgets = new Set(models.map((m) => m.run.train.steps * m.run.train.batch_size * m.run.train.seq_len * m.run.train.grad_accum));
    if (budgets.size > 1) {
      throw new UsageError(`moekit compare: the configs' token budgets differ (${[...budgets].join(', ')} tokens)`, 'pass --tokens N to give every config the same budget');
    }
    const base = seed0 ?? models[0].run.train.seed;
    const outDir = resolve(stringFlag(values.out) ?? 'runs/compare');
    const files = models[0].run.data.files;
    const result = await runPlan(models, {
      outDir, seeds: Array.from({ length: seeds }, (_, i) => base + i), label: 'compare', kind: 'compare',
      data: files.length > 0 ? `${files.join(', ')} (valid fraction ${models[0].run.data.valid_fraction})` : `bundled Brown corpus (500 documents, 15 genres; valid fraction ${models[0].run.data.valid_fraction}, whole documents held out)`,
    });
    process.stdout.write(`\n${resultsTable(result.summary)}\n\nsummary: ${result.summaryPath}\nreport:  ${result.reportPath}\n`);
  },
};

/** Set a run's steps, keeping evaluation (several points on the curve), warm-up and checkpoints inside it. */
export function fitSteps(run: RunConfig, steps: number): RunConfig {
  const t = { ...run.train, steps };
  if (t.eval_interval > steps) t.eval_interval = Math.max(1, Math.floor(steps / 4));
  if (t.checkpoint_interval > steps) t.checkpoint_interval = steps;
  if (t.warmup_steps >= steps) t.warmup_steps = Math.floor(steps / 10);
  if (t.log_interval > steps) t.log_interval = Math.max(1, t.eval_interval);
  return { ...run, train: t };
}
