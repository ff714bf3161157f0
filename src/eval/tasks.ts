// Multiple-choice task evaluation the way lm-evaluation-harness scores log-likelihood tasks (PIQA,
// HellaSwag, ARC, …), with the activated experts per task and per MoE layer (Top-P paper §1.4: harder
// tasks activate more experts).
//
// Task file: JSON lines, one item each:
//   {"task": "piqa", "context": "To open a jar,", "choices": [" twist the lid.", " eat the lid."], "label": 0}
//   task     non-empty string (items are grouped by it)
//   context  string (may be empty)
//   choices  ≥ 2 non-empty strings, the continuations (lead them with a space, as the harness does)
//   label    integer index of the right choice
//   id       optional string or number, ignored
// Any other key, or a malformed line, is an error naming the file and line. Blank lines are skipped.
//
// Scoring of one item: the sequence is <|endoftext|> + tokens(context) + tokens(choice) (trailing
// whitespace of the context moves to the front of the choice, as in the harness); loglik(choice) =
// Σ log p(choice token | everything before it). acc = [argmax_i loglik_i == label]; acc_norm = the same
// with loglik_i / (UTF-8 bytes of choice i). Sequences longer than max_position_embeddings lose context
// tokens from the left. Experts: k per MoE layer (after drops) at the positions that predict choice tokens.
//
// JSON shape of `TaskEvaluation`:
//   { "file": "data/tasks/brown-cloze.jsonl", "items": 300, "moe_layers": [0, 1],
//     "tasks": [{ "task": "brown-cloze-easy", "items": 100, "acc": 0.61, "acc_norm": 0.58,
//                 "mean_k": 1.8, "mean_k_per_layer": [2.0, 1.6], "tokens": 412 }, …] }   tasks sorted by name
import { readFileSync } from 'node:fs';
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MoekitError, noGrad } from '../tensor/index.js';
import { kPerToken, type MoeRouting } from '../moe/index.js';
import type { DecoderLM } from '../models/index.js';
import { END_OF_TEXT, type Tokenizer } from '../data/index.js';

export class TaskFileError extends MoekitError {}

export interface TaskItem {
  task: string;
  context: string;
  choices: string[];
  label: number;
}

export interface TaskMetrics {
  task: string;
  items: number;
  acc: number;
  acc_norm: number;
  /** Mean over MoE layers of the experts per choice token; null for a dense model. */
  mean_k: number | null;
  mean_k_per_layer: number[];
  /** Choice-token positions the expert means are over. */
  tokens: number;
}

export interface TaskEvaluation {
  file: string;
  items: number;
  moe_layers: number[];
  tasks: TaskMetrics[];
}

/** Scores of one item, for tests and per-item analysis. */
export interface ItemScore {
  loglik: number[];
  bytes: number[];
  pred: number;
  predNorm: number;
}

const KEYS = ['task', 'context', 'choices', 'label', 'id'];

/** Bundled task files by short name (`--tasks brown-cloze`). */
export const BUNDLED_TASKS: Record<string, string> = { 'brown-cloze': 'brown-cloze.jsonl' };

/** `brown-cloze` → the bundled file; anything else is a path. */
export function resolveTaskFile(nameOrPath: string): string {
  const bundled = BUNDLED_TASKS[nameOrPath];
  if (!bundled) return resolve(nameOrPath);
  // dist/src/eval/tasks.js → repository root (package root) → data/tasks/
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'data', 'tasks', bundled);
}

/** Parse a task file's text; every error names `file` and the 1-based line. */
export function parseTaskLines(text: string, file: string): TaskItem[] {
  const items: TaskItem[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${file}:${i + 1}`;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch (e) {
      throw new TaskFileError(`${where}: not valid JSON (${(e as Error).message})`, 'one {"task", "context", "choices", "label"} object per line');
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new TaskFileError(`${where}: expected a JSON object`);
    const r = o as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!KEYS.includes(k)) throw new TaskFileError(`${where}: unknown key "${k}" (keys: ${KEYS.join(', ')})`);
    if (typeof r.task !== 'string' || r.task.trim() === '') throw new TaskFileError(`${where}: "task" must be a non-empty string`);
    if (typeof r.context !== 'string') throw new TaskFileError(`${where}: "context" must be a string`);
    if (!Array.isArray(r.choices) || r.choices.length < 2) throw new TaskFileError(`${where}: "choices" must be a list of at least 2 strings`);
    r.choices.forEach((c, j) => {
      if (typeof c !== 'string' || c.length === 0) throw new TaskFileError(`${where}: choices[${j}] must be a non-empty string`);
    });
    if (typeof r.label !== 'number' || !Number.isInteger(r.label) || r.label < 0 || r.label >= r.choices.length) {
      throw new TaskFileError(`${where}: "label" must be an integer in [0, ${r.choices.length}), got ${JSON.stringify(r.label)}`);
    }
    items.push({ task: r.task, context: r.context, choices: r.choices as string[], label: r.label });
  });
  if (items.length === 0) throw new TaskFileError(`${file}: no task items`);
  return items;
}

export function readTaskFile(path: string): TaskItem[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TaskFileError(`cannot read task file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseTaskLines(text, path);
}

/** Context and choice token ids (harness split: the context's trailing whitespace goes to the choice). */
export function encodeChoice(tokenizer: Tokenizer, context: string, choice: string): { context: number[]; choice: number[] } {
  const trimmed = context.replace(/\s+$/, '');
  const moved = context.slice(trimmed.length);
  return {
    context: [tokenizer.specialId(END_OF_TEXT), ...tokenizer.encode(trimmed, { parseSpecial: false, addSpecial: false })],
    choice: tokenizer.encode(moved + choice, { parseSpecial: false, addSpecial: false }),
  };
}

/**
 * Log-likelihood of `choice` after `context` (token ids) and the experts per MoE layer at the positions
 * predicting the choice tokens. Left-truncates the context to fit max_position_embeddings.
 */
export function choiceLoglik(model: DecoderLM, context: readonly number[], choice: readonly number[]):
  { loglik: number; k: number[][] } {
  if (choice.length === 0) throw new TaskFileError('a choice encodes to no tokens');
  let all = [...context, ...choice];
  const maxLen = model.config.max_position_embeddings + 1;
  if (all.length > maxLen) all = all.slice(all.length - maxLen);
  const n = all.length - 1;
  const inputs = Int32Array.from(all.slice(0, n));
  const targets = new Int32Array(n).fill(-1);
  const first = n - choice.length; // position predicting the first choice token
  if (first < 0) throw new TaskFileError(`a choice of ${choice.length} tokens does not fit max_position_embeddings ${model.config.max_position_embeddings}`);
  for (let i = first; i < n; i++) targets[i] = all[i + 1];
  const layers = model.moeLayers().map((m) => m.layer);
  let loglik = 0;
  const k: number[][] = layers.map(() => []);
  noGrad(() => {
    const r = model.loss(inputs, targets, 1, n);
    for (let i = first; i < n; i++) loglik -= r.perToken[i];
    layers.forEach((layer, j) => {
      const rep = r.reports.find((x) => x.layer === layer)?.routing as MoeRouting | undefined;
      const kt = rep ? kPerToken(rep.output.assignment, rep.T, true) : new Int32Array(n);
      for (let i = first; i < n; i++) k[j].push(kt[i]);
    });
  });
  return { loglik, k };
}

const argmax = (xs: readonly number[]): number => xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);

/** Score every item; results grouped per task (sorted by name). */
export function evaluateTasks(model: DecoderLM, tokenizer: Tokenizer, items: readonly TaskItem[], file: string,
  onItem?: (done: number, total: number) => void): TaskEvaluation & { scores: ItemScore[] } {
  const layers = model.moeLayers().map((m) => m.layer);
  const groups = new Map<string, { items: number; acc: number; accNorm: number; kSum: number[]; tokens: number }>();
  const scores: ItemScore[] = [];
  items.forEach((item, idx) => {
    let g = groups.get(item.task);
    if (!g) groups.set(item.task, (g = { items: 0, acc: 0, accNorm: 0, kSum: layers.map(() => 0), tokens: 0 }));
    const loglik: number[] = [];
    const bytes: number[] = [];
    for (const c of item.choices) {
      const enc = encodeChoice(tokenizer, item.context, c);
      const r = choiceLoglik(model, enc.context, enc.choice);
      loglik.push(r.loglik);
      bytes.push(Buffer.byteLength(c, 'utf8'));
      r.k.forEach((kl, j) => {
        for (const v of kl) g!.kSum[j] += v;
      });
      g.tokens += enc.choice.length;
    }
    const pred = argmax(loglik);
    const predNorm = argmax(loglik.map((l, i) => l / bytes[i]));
    g.items++;
    if (pred === item.label) g.acc++;
    if (predNorm === item.label) g.accNorm++;
    scores.push({ loglik, bytes, pred, predNorm });
    onItem?.(idx + 1, items.length);
  });
  const tasks: TaskMetrics[] = [...groups].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([task, g]) => {
    const per = layers.length > 0 && g.tokens > 0 ? g.kSum.map((s) => s / g.tokens) : [];
    return {
      task, items: g.items, acc: g.acc / g.items, acc_norm: g.accNorm / g.items,
      mean_k: per.length > 0 ? per.reduce((a, b) => a + b, 0) / per.length : null,
      mean_k_per_layer: per, tokens: g.tokens,
    };
  });
  return { file, items: items.length, moe_layers: layers, tasks, scores };
}
