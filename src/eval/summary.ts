// summary.json: everything `moekit demo` / `moekit compare` measured, gathered from the run directories
// (metrics.jsonl + run.json) into one file. The report is rendered from this file alone, so every number
// on the page comes from the runs it describes. Seeds of one model are combined as mean ± sample std.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsLog, type MetricsRecord } from '../train/metrics.js';
import type { ModelEvaluation } from './evaluate.js';
import type { TaskEvaluation, TaskMetrics } from './tasks.js';

export const SUMMARY_VERSION = 1;

/** mean ± sample standard deviation over seeds (std null with one seed: the spread was not measured). */
export interface Stat {
  mean: number;
  std: number | null;
  n: number;
}

export interface CurvePoint {
  tokens: number;
  val_loss: Stat;
  /** Mean experts per token over MoE layers (null for dense models). */
  mean_k: Stat | null;
}

export interface LayerSummary {
  layer: number;
  experts: number;
  mean_k: Stat;
  /** Share of the (token, expert) pairs each expert received in the last evaluation, mean over seeds. */
  load_share: number[];
  /** Fraction of tokens routed to k = 0, 1, … E experts in the last evaluation, mean over seeds. */
  k_frac: number[];
}

export interface RunRecord {
  seed: number;
  dir: string;
  steps: number;
  tokens: number;
  val_loss: number;
  mean_k: number | null;
  activated_params: number;
  total_params: number;
  /** Median of the logged training windows' tokens/s (evaluation excluded). */
  tok_per_s: number | null;
}

export interface ModelSummary {
  name: string;
  /** What the model is, in words (e.g. "Top-P, p = 0.4, 8 experts"). */
  description: string;
  /** Router type, null for a dense model. */
  router: string | null;
  total_params: number;
  runs: RunRecord[];
  val_loss: Stat;
  val_ppl: Stat;
  mean_k: Stat | null;
  activated_params: Stat;
  tok_per_s: Stat | null;
  curve: CurvePoint[];
  layers: LayerSummary[];
  /** From `evaluateModel` on the validation batches (null when no run has an eval.json). */
  per_source: SourceSummary[] | null;
  by_difficulty: DecileSummary[] | null;
  /** Multiple-choice task scores (tasks.json beside each run), null when not evaluated. */
  tasks: TaskSummary[] | null;
}

export interface TaskSummary {
  task: string;
  items: number;
  acc: Stat;
  acc_norm: Stat;
  mean_k: Stat | null;
}

export interface SourceSummary {
  source: string;
  tokens: number;
  loss: Stat;
  mean_k: Stat | null;
}

export interface DecileSummary {
  /** 1 = the easiest 10 % of tokens (lowest own loss), 10 = the hardest. */
  decile: number;
  mean_loss: Stat;
  mean_k: Stat | null;
}

/** A comparison of two models' validation loss, labelled against the seeds' spread. */
export interface Difference {
  a: string;
  b: string;
  /** a − b (negative: a is better). */
  delta: number;
  /** The larger of the two models' seed std (null when either has a single seed). */
  spread: number | null;
  verdict: 'a better' | 'b better' | 'within seed spread' | 'spread not measured';
}

export interface Finding {
  claim: string;
  /** 'reproduced' | 'not reproduced' | 'not measured' */
  status: 'reproduced' | 'not reproduced' | 'not measured';
  detail: string;
}

export interface Summary {
  version: number;
  kind: 'demo' | 'compare';
  created: string;
  /** What was measured, in words (data, budget, seeds, machine). */
  measured: string;
  data: string;
  token_budget: number;
  seeds: number[];
  backend: string;
  wall_s: number | null;
  models: ModelSummary[];
  differences: Difference[];
  findings: Finding[];
  notes: string[];
}

export function stat(values: number[]): Stat {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: null, n: 0 };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { mean, std: null, n };
  const v = values.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
  return { mean, std: Math.sqrt(v), n };
}

function statOrNull(values: (number | null)[]): Stat | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length === values.length && v.length > 0 ? stat(v) : null;
}

function median(values: number[]): number | null {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length > 0 ? v[Math.floor(v.length / 2)] : null;
}

export interface RunInput {
  seed: number;
  dir: string;
  /** Parameter count of the model (the trainer's model.parameterCount()). */
  totalParams: number;
}

export interface ModelInput {
  name: string;
  description: string;
  router: string | null;
  runs: RunInput[];
}

/** The task evaluation saved beside a run (tasks.json), or null. */
export function readTaskEvaluation(dir: string): TaskEvaluation | null {
  const path = join(dir, 'tasks.json');
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as TaskEvaluation;
  } catch {
    return null;
  }
}

/** Per task: accuracy, length-normalised accuracy and experts per choice token, over seeds. */
function taskSummary(evals: TaskEvaluation[]): TaskSummary[] {
  return evals[0].tasks.map((t) => {
    const all = evals.map((e) => e.tasks.find((x) => x.task === t.task)).filter((x): x is TaskMetrics => x !== undefined);
    return { task: t.task, items: t.items, acc: stat(all.map((x) => x.acc)), acc_norm: stat(all.map((x) => x.acc_norm)), mean_k: statOrNull(all.map((x) => x.mean_k)) };
  });
}

/** The evaluateModel result saved beside a run (eval.json), or null. */
export function readEvaluation(dir: string): ModelEvaluation | null {
  const path = join(dir, 'eval.json');
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ModelEvaluation;
  } catch {
    return null;
  }
}

function perSourceSummary(evals: ModelEvaluation[]): SourceSummary[] | null {
  if (evals.length === 0) return null;
  const out: SourceSummary[] = [];
  for (const s of evals[0].per_source) {
    const all = evals.map((e) => e.per_source.find((x) => x.source === s.source));
    if (all.some((x) => !x)) continue;
    out.push({
      source: s.source, tokens: Math.round(all.reduce((a, x) => a + x!.tokens, 0) / all.length),
      loss: stat(all.map((x) => x!.loss)), mean_k: statOrNull(all.map((x) => x!.mean_k)),
    });
  }
  return out;
}

function decileSummary(evals: ModelEvaluation[]): DecileSummary[] | null {
  if (evals.length === 0) return null;
  const out: DecileSummary[] = [];
  for (let d = 1; d <= 10; d++) {
    const all = evals.map((e) => e.by_difficulty.find((x) => x.decile === d));
    if (all.some((x) => !x)) continue;
    out.push({ decile: d, mean_loss: stat(all.map((x) => x!.mean_loss)), mean_k: statOrNull(all.map((x) => x!.mean_k)) });
  }
  return out;
}

export function readMetrics(dir: string): MetricsRecord[] {
  const path = join(dir, 'metrics.jsonl');
  return existsSync(path) ? new MetricsLog(path).read() : [];
}

interface LayerRec {
  layer: number;
  experts: number;
  mean_k_after_drops: number;
  k_hist: number[];
  load: number[];
}

/** One model's seeds → its summary. Every run must have finished (an evaluation at its last step). */
export function summarizeModel(m: ModelInput): ModelSummary {
  const runs: RunRecord[] = [];
  const evalsPerRun: MetricsRecord[][] = [];
  for (const r of m.runs) {
    const recs = readMetrics(r.dir);
    const evals = recs.filter((x) => typeof x.val_loss === 'number');
    const last = evals.at(-1);
    if (!last) throw new Error(`${r.dir}: metrics.jsonl holds no evaluation`);
    evalsPerRun.push(evals);
    runs.push({
      seed: r.seed, dir: r.dir, steps: last.step, tokens: last.tokens as number, val_loss: last.val_loss as number,
      mean_k: typeof last.mean_k === 'number' ? last.mean_k : null,
      activated_params: typeof last.activated_params === 'number' ? last.activated_params : r.totalParams,
      total_params: r.totalParams,
      tok_per_s: median(recs.map((x) => x.tok_per_s as number)),
    });
  }
  // Curves: evaluation points shared by every seed (same config ⇒ same steps).
  const curve: CurvePoint[] = [];
  const first = evalsPerRun[0] ?? [];
  for (const p of first) {
    const at = evalsPerRun.map((ev) => ev.find((x) => x.step === p.step));
    if (at.some((x) => !x)) continue;
    curve.push({
      tokens: p.tokens as number,
      val_loss: stat(at.map((x) => x!.val_loss as number)),
      mean_k: statOrNull(at.map((x) => (typeof x!.mean_k === 'number' ? x!.mean_k : null))),
    });
  }
  // Per-layer statistics of the last evaluation.
  const lastLayers = evalsPerRun.map((ev) => (ev.at(-1)?.moe as LayerRec[] | undefined) ?? []);
  const layers: LayerSummary[] = [];
  for (const l of lastLayers[0] ?? []) {
    const per = lastLayers.map((ls) => ls.find((x) => x.layer === l.layer)).filter((x): x is LayerRec => x !== undefined);
    const share = (rec: LayerRec) => {
      const s = rec.load.reduce((a, b) => a + b, 0);
      return rec.load.map((v) => (s > 0 ? v / s : 0));
    };
    const frac = (rec: LayerRec) => {
      const s = rec.k_hist.reduce((a, b) => a + b, 0);
      return rec.k_hist.map((v) => (s > 0 ? v / s : 0));
    };
    const avg = (rows: number[][]) => rows[0].map((_, i) => rows.reduce((s, r) => s + (r[i] ?? 0), 0) / rows.length);
    layers.push({
      layer: l.layer, experts: l.experts, mean_k: stat(per.map((x) => x.mean_k_after_drops)),
      load_share: avg(per.map(share)), k_frac: avg(per.map(frac)),
    });
  }
  const evals = m.runs.map((r) => readEvaluation(r.dir)).filter((e): e is ModelEvaluation => e !== null);
  const taskEvals = m.runs.map((r) => readTaskEvaluation(r.dir)).filter((e): e is TaskEvaluation => e !== null);
  const val = runs.map((r) => r.val_loss);
  const tps = runs.map((r) => r.tok_per_s);
  return {
    name: m.name, description: m.description, router: m.router, total_params: runs[0]?.total_params ?? 0, runs,
    val_loss: stat(val), val_ppl: stat(val.map(Math.exp)),
    mean_k: statOrNull(runs.map((r) => r.mean_k)),
    activated_params: stat(runs.map((r) => r.activated_params)),
    tok_per_s: statOrNull(tps),
    curve, layers,
    per_source: evals.length === runs.length ? perSourceSummary(evals) : null,
    by_difficulty: evals.length === runs.length ? decileSummary(evals) : null,
    tasks: taskEvals.length === runs.length && taskEvals.length > 0 ? taskSummary(taskEvals) : null,
  };
}

/** a vs b on validation loss, labelled against the seeds' spread. */
export function compareModels(a: ModelSummary, b: ModelSummary): Difference {
  const delta = a.val_loss.mean - b.val_loss.mean;
  const spread = a.val_loss.std !== null && b.val_loss.std !== null ? Math.max(a.val_loss.std, b.val_loss.std) : null;
  let verdict: Difference['verdict'];
  if (spread === null) verdict = 'spread not measured';
  else if (Math.abs(delta) <= spread) verdict = 'within seed spread';
  else verdict = delta < 0 ? 'a better' : 'b better';
  return { a: a.name, b: b.name, delta, spread, verdict };
}

function fmt(x: number, d = 3): string {
  return Number.isFinite(x) ? x.toFixed(d) : '--';
}

/** The paper's four findings (§1.4), checked on these runs where they can be. */
export function paperFindings(models: ModelSummary[]): Finding[] {
  const topP = models.find((m) => m.router === 'top_p');
  const top2 = models.find((m) => m.router === 'top_k' && m.description.includes('k = 2'));
  const out: Finding[] = [];
  if (topP && top2 && topP.mean_k && top2.mean_k) {
    const d = compareModels(topP, top2);
    const fewer = topP.mean_k.mean < top2.mean_k.mean;
    const asGood = d.verdict === 'a better' || d.verdict === 'within seed spread' || (d.verdict === 'spread not measured' && d.delta <= 0);
    out.push({
      claim: 'Top-P matches Top-2 quality with fewer activated experts',
      status: fewer && asGood ? 'reproduced' : 'not reproduced',
      detail: `Top-P val loss ${fmt(topP.val_loss.mean)} with ${fmt(topP.mean_k.mean, 2)} experts/token vs Top-2 ${fmt(top2.val_loss.mean)} with ${fmt(top2.mean_k.mean, 2)}` +
        ` (difference ${d.delta >= 0 ? '+' : ''}${fmt(d.delta)}; ${d.verdict === 'spread not measured' ? 'one seed each: spread not measured' : d.verdict === 'within seed spread' ? 'within seed spread' : `seed spread ${fmt(d.spread ?? NaN)}`})` +
        (!fewer ? '; Top-P did not use fewer experts than Top-2' : !asGood ? '; Top-P did not reach Top-2\'s validation loss at this scale' : ''),
    });
  } else {
    out.push({ claim: 'Top-P matches Top-2 quality with fewer activated experts', status: 'not measured', detail: 'needs a Top-P and a Top-2 (k = 2) model in the comparison' });
  }
  const pts = topP?.curve.filter((p) => p.mean_k) ?? [];
  if (pts.length >= 2) {
    const a = pts[0].mean_k!.mean;
    const b = pts.at(-1)!.mean_k!.mean;
    out.push({
      claim: 'Top-P activates fewer experts per token as training goes on',
      status: b < a ? 'reproduced' : 'not reproduced',
      detail: `mean experts/token ${fmt(a, 2)} at ${pts[0].tokens.toLocaleString('en-US')} tokens → ${fmt(b, 2)} at ${pts.at(-1)!.tokens.toLocaleString('en-US')} tokens`,
    });
  } else {
    out.push({ claim: 'Top-P activates fewer experts per token as training goes on', status: 'not measured', detail: 'needs a Top-P model with at least two evaluations' });
  }
  const layers = topP?.layers ?? [];
  if (layers.length >= 2) {
    const lo = layers[0].mean_k.mean;
    const hi = layers.at(-1)!.mean_k.mean;
    out.push({
      claim: 'Lower layers activate more experts than upper layers',
      status: lo > hi ? 'reproduced' : 'not reproduced',
      detail: `Top-P experts/token per layer: ${layers.map((l) => `L${l.layer} ${fmt(l.mean_k.mean, 2)}`).join(', ')}`,
    });
  } else {
    out.push({ claim: 'Lower layers activate more experts than upper layers', status: 'not measured', detail: 'needs a Top-P model with at least two MoE layers' });
  }
  const dec = topP?.by_difficulty?.filter((d) => d.mean_k) ?? [];
  if (dec.length >= 2) {
    const third = (ds: DecileSummary[]) => ds.reduce((a, d) => a + d.mean_k!.mean, 0) / ds.length;
    const easy = third(dec.slice(0, 3));
    const hard = third(dec.slice(-3));
    const src = (topP?.per_source ?? []).filter((x) => x.mean_k).sort((a, b) => b.mean_k!.mean - a.mean_k!.mean);
    out.push({
      claim: 'Harder inputs activate more experts',
      status: hard > easy ? 'reproduced' : 'not reproduced',
      detail: `Top-P experts/token on the easiest 30 % of validation tokens (by their own loss) ${fmt(easy, 2)} vs the hardest 30 % ${fmt(hard, 2)}` +
        ` (deciles 1–10: ${dec.map((d) => fmt(d.mean_k!.mean, 2)).join(', ')})` +
        (src.length >= 2 ? `; by genre from ${fmt(src.at(-1)!.mean_k!.mean, 2)} (${src.at(-1)!.source}) to ${fmt(src[0].mean_k!.mean, 2)} (${src[0].source})` : ''),
    });
  } else {
    out.push({
      claim: 'Harder inputs activate more experts',
      status: 'not measured',
      detail: 'needs a Top-P model evaluated per token difficulty (eval.json in its run directory)',
    });
  }
  if (topP && topP.runs.length < 2) {
    for (const f of out) if (f.status !== 'not measured') f.detail += '. One seed: not tested against the seed-to-seed spread';
  }
  return out;
}

/** Pairwise differences the page labels: every model against the best one, and Top-P against Top-2. */
export function keyDifferences(models: ModelSummary[]): Difference[] {
  const out: Difference[] = [];
  if (models.length < 2) return out;
  const best = [...models].sort((a, b) => a.val_loss.mean - b.val_loss.mean)[0];
  for (const m of models) if (m !== best) out.push(compareModels(m, best));
  return out;
}

export function readSummary(path: string): Summary {
  return JSON.parse(readFileSync(path, 'utf8')) as Summary;
}
