// `moekit eval`: perplexity and §16 routing statistics of a trained model — overall, per MoE layer, per
// data source and per token-difficulty decile — and multiple-choice task accuracy with experts per task.
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../tensor/index.js';
import type { RouterConfig } from '../moe/index.js';
import { loadModel } from '../io/load.js';
import { encodeDocuments, END_OF_TEXT, loadCorpus, loadHfTokenizer, splitDocuments, Tokenizer, ValidBatches, type Batch, type TokenStream } from '../data/index.js';
import { parseDataConfig, parseTrainConfig } from '../train/config.js';
import { evaluateModel, type EvaluateOptions, type ModelEvaluation } from '../eval/evaluate.js';
import { renderSweepReport, sweepKey, sweepRouter, type SweepResult } from '../eval/sweep.js';
import { evaluateTasks, readTaskFile, resolveTaskFile, type TaskEvaluation } from '../eval/tasks.js';
import type { Command } from './command.js';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';
import { THREADS_FLAG, THREADS_USAGE, applyThreadsFlag } from './threads_flag.js';
import { WEIGHTS_FLAG, WEIGHTS_USAGE, weightsFromFlags } from './weights_flag.js';
import { ROUTER_FLAGS, ROUTER_USAGE, routerFromFlags } from './router_flags.js';
import { ProgressBar } from './progress.js';

/** What `moekit eval --json` prints (and --out writes). */
export interface EvalReport {
  model: string;
  /** The router used when overridden (--router), else null (the trained one). */
  router_override: RouterConfig | null;
  data: { split: 'validation' | 'files'; files: string[]; seq_len: number; batches: number; sources: string[] } | null;
  evaluation: ModelEvaluation | null;
  tasks: TaskEvaluation | null;
  /** With --sweep: perplexity and mean experts per token at each setting, and with the native router. */
  sweep: SweepResult | null;
}

const USAGE = `moekit eval --model DIR [options]

  --model DIR        a run directory (config.json, model.safetensors, tokenizer.json, run.json) or a
                     HuggingFace model directory (mixtral, olmoe, qwen2_moe, qwen3_moe, deepseek, …)
  --data FILES       evaluate on these .txt / .jsonl files (all of them) instead of the run's own
                     validation split (reproduced from run.json: same corpus, seed and valid_fraction;
                     a directory without run.json uses the bundled Brown corpus's validation split)
  --batches N        evaluate on N batches spread evenly over the data (default: all)
  --seq-len N        sequence length (default: the run's train.seq_len, else min(256, max positions))
  --tasks FILE       multiple-choice tasks (JSON lines {"task","context","choices","label"});
                     "brown-cloze" = the bundled cloze items (data/tasks/brown-cloze.jsonl)
  --no-ppl           with --tasks: skip the perplexity evaluation
${ROUTER_USAGE}
  --sweep LIST       with --router top_p (or top_k): evaluate at each p (or k) in the comma-separated
                     list and with the model's own router; writes a report with the perplexity /
                     experts-per-token curve (--report, default sweep-report.html)
  --report FILE      where --sweep writes its HTML report
  --json             print the result as JSON (shape documented in README "Evaluation")
  --out FILE         also write the JSON result to FILE (nothing is written otherwise)
${THREADS_USAGE}
${WEIGHTS_USAGE}`;

export const evalCommand: Command = {
  name: 'eval',
  summary: 'perplexity, routing statistics per layer / source / difficulty, and task accuracy of a model',
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags('eval', argv, {
      model: { type: 'string' }, data: { type: 'string' }, batches: { type: 'string' }, 'seq-len': { type: 'string' },
      tasks: { type: 'string' }, 'no-ppl': { type: 'boolean' }, ...ROUTER_FLAGS, sweep: { type: 'string' }, report: { type: 'string' },
      json: { type: 'boolean' }, out: { type: 'string' }, ...THREADS_FLAG, ...WEIGHTS_FLAG,
    });
    const dir = stringFlag(values.model);
    if (!dir) throw new UsageError('moekit eval: --model DIR is required', 'see moekit eval --help');
    applyThreadsFlag('eval', values);
    const batchesWanted = intFlag('eval', 'batches', values.batches);
    const seqLenFlag = intFlag('eval', 'seq-len', values['seq-len']);
    const routerRaw = routerFromFlags('eval', values);
    const sweep = sweepValues(values.sweep, routerRaw);
    const tasksArg = stringFlag(values.tasks);
    const noPpl = Boolean(values['no-ppl']);
    if (noPpl && !tasksArg) throw new UsageError('moekit eval: --no-ppl needs --tasks');
    const taskItems = tasksArg ? readTaskFile(resolveTaskFile(tasksArg)) : null; // bad lines fail before any work

    const loaded = loadModel(resolve(dir), { weights: weightsFromFlags(values) });
    const model = loaded.model;
    if (routerRaw && !sweep) model.setRouter(routerRaw);
    if (!loaded.tokenizerPath) throw new ConfigError(`${dir} has no tokenizer.json`, 'moekit eval needs the tokenizer the model was trained with');
    const hf = loadHfTokenizer(dirname(loaded.tokenizerPath));
    const tokenizer = hf.tokenizer;
    // Documents end with <|endoftext|> in moekit's tokenizers, with the checkpoint's EOS in others.
    const separator = tokenizer.added.idOf(END_OF_TEXT) ?? hf.eosTokenIds[0];
    if (separator === undefined) throw new ConfigError(`${loaded.tokenizerPath} has neither <|endoftext|> nor an EOS token to separate documents`);
    const run = loaded.run ? runSections(loaded.run, join(dir, 'run.json')) : null;

    const report: EvalReport = {
      model: resolve(dir), router_override: routerRaw && !sweep ? model.config.moe!.router : null, data: null, evaluation: null, tasks: null, sweep: null,
    };
    if (!noPpl) {
      const dataFlag = stringFlag(values.data);
      const files = dataFlag?.split(',').map((f) => f.trim()).filter(Boolean).map((f) => resolve(f));
      if (dataFlag !== undefined && files!.length === 0) throw new UsageError('moekit eval: --data needs at least one file');
      const seqLen = seqLenFlag ?? run?.train.seq_len ?? Math.min(256, model.config.max_position_embeddings);
      if (seqLen > model.config.max_position_embeddings) {
        throw new UsageError(`moekit eval: --seq-len ${seqLen} exceeds the model's max_position_embeddings ${model.config.max_position_embeddings}`);
      }
      // Without run.json: the bundled corpus's validation split with the trainer's default seed and fraction.
      const split = run ?? { train: parseTrainConfig({}, 'defaults'), data: parseDataConfig({}, 'defaults') };
      const { stream, sources } = evalStream(tokenizer, separator, files ?? split.data.files, files ? null : { seed: split.train.seed, validFraction: split.data.valid_fraction });
      const all = new ValidBatches(stream, { seqLen, batchSize: run?.train.batch_size ?? 8 });
      const n = Math.min(batchesWanted ?? all.count, all.count);
      const batches: Batch[] = [];
      for (let i = 0; i < n; i++) batches.push(all.batch(Math.floor((i * all.count) / n)));
      report.data = { split: files ? 'files' : 'validation', files: files ?? split.data.files, seq_len: seqLen, batches: n, sources };
      const data: EvaluateOptions = { batches, seqLen, sources };
      report.evaluation = evaluateModel(model, data);
      if (sweep) {
        const bar = new ProgressBar(`sweep ${String(routerRaw!.type)}`, sweep.length);
        report.sweep = sweepRouter(model, data, report.evaluation, routerRaw!, sweep, (done) => bar.update(done));
        bar.finish();
        const html = stringFlag(values.report) ?? 'sweep-report.html';
        writeReport(html, renderSweepReport(resolve(dir), files ? files.join(', ') : 'the validation split of the run\'s data (Brown corpus by default)', report.sweep));
        process.stderr.write(`moekit eval: sweep report written to ${html}\n`);
      }
    }
    if (taskItems) {
      const { scores: _scores, ...t } = evaluateTasks(model, tokenizer, taskItems, tasksArg!); // per-item scores stay out of the JSON
      report.tasks = t;
    }
    const json = JSON.stringify(report, null, 2) + '\n';
    const out = stringFlag(values.out);
    if (out) {
      try {
        writeFileSync(out, json);
      } catch (e) {
        throw new UsageError(`moekit eval: cannot write --out ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    process.stdout.write(values.json ? json : summary(report) + '\n');
  },
};

/** --sweep 0.3,0.5,… → the values (needs --router of a type a sweep can vary). */
function sweepValues(raw: unknown, router: Record<string, unknown> | null): number[] | null {
  const list = stringFlag(raw);
  if (list === undefined) return null;
  if (!router) throw new UsageError('moekit eval: --sweep needs --router top_p (or top_k)');
  sweepKey(router.type); // a router without a swept option fails before any work
  const values = list.split(',').map((v) => v.trim()).filter(Boolean).map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) throw new UsageError(`moekit eval: --sweep must be a comma-separated list of numbers, got "${list}"`);
  return values;
}

function writeReport(path: string, html: string): void {
  try {
    writeFileSync(path, html);
  } catch (e) {
    throw new UsageError(`moekit eval: cannot write --report ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** run.json's train and data sections (its model section is the parsed config, already in config.json). */
function runSections(raw: unknown, where: string): { train: ReturnType<typeof parseTrainConfig>; data: ReturnType<typeof parseDataConfig> } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: expected a JSON object`);
  const o = raw as Record<string, unknown>;
  return { train: parseTrainConfig(o.train ?? {}, `${where}.train`), data: parseDataConfig(o.data ?? {}, `${where}.data`) };
}

/**
 * The token stream to evaluate: the run's validation documents (the trainer's split, reproduced from the
 * corpus, seed and valid_fraction) or every document of the given files, encoded with the saved tokenizer.
 */
function evalStream(tokenizer: Tokenizer, separator: number, files: string[], split: { seed: number; validFraction: number } | null):
  { stream: TokenStream; sources: string[] } {
  const docs = loadCorpus({ data: files });
  const sources = [...new Set(docs.map((d) => d.source))].sort(); // as prepareData numbers them
  const chosen = split ? splitDocuments(docs, { seed: split.seed, validFraction: split.validFraction }).valid : docs;
  return { stream: encodeDocuments(tokenizer, chosen, new Map(sources.map((s, i) => [s, i])), undefined, separator), sources };
}

const f = (x: number | null, d = 3): string => (x === null || !Number.isFinite(x) ? '--' : x.toFixed(d));

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

/** The readable summary: overall, per layer, per source, per difficulty decile, per task. */
export function summary(r: EvalReport): string {
  const out: string[] = [`model ${r.model}${r.router_override ? ` (router override: ${JSON.stringify(r.router_override)})` : ''}`];
  const e = r.evaluation;
  if (e && r.data) {
    out.push(`data: ${r.data.split === 'validation' ? 'validation split of the run\'s data' : r.data.files.join(', ')}; ` +
      `${e.tokens.toLocaleString('en-US')} tokens in ${r.data.batches} batches of ${r.data.seq_len}-token rows`);
    const rt = e.routing;
    out.push(`loss ${f(e.loss, 4)}  perplexity ${f(e.ppl, 2)}` + (rt
      ? `  mean experts/token ${f(rt.mean_k)}  activated params ${rt.activated_params.toLocaleString('en-US')} of ${rt.total_params.toLocaleString('en-US')}`
      : '  (dense model)'));
    if (rt) {
      out.push('', 'per MoE layer:');
      out.push(table(['layer', 'experts', 'mean_k', 'k_after_drops', 'load_cv', 'max_vio', 'dead', 'dropped', 'entropy_norm'],
        rt.layers.map((l) => [String(l.layer), String(l.experts), f(l.mean_k), f(l.mean_k_after_drops), f(l.load_cv), f(l.max_vio),
          String(l.dead_experts.length), f(l.dropped_fraction), f(l.entropy_norm)])));
    }
    out.push('', 'per source:');
    out.push(table(['source', 'tokens', 'loss', 'ppl', 'mean_k', 'k per layer'],
      e.per_source.map((s) => [s.source, String(s.tokens), f(s.loss, 4), f(s.ppl, 2), f(s.mean_k), s.mean_k_per_layer.map((k) => f(k, 2)).join(' ')])));
    out.push('', 'by token difficulty (deciles of the token\'s own loss; 1 = easiest):');
    out.push(table(['decile', 'tokens', 'loss range', 'mean_k', 'k per layer'],
      e.by_difficulty.map((d) => [String(d.decile), String(d.tokens), `${f(d.loss_range[0], 2)}–${f(d.loss_range[1], 2)}`, f(d.mean_k),
        d.mean_k_per_layer.map((k) => f(k, 2)).join(' ')])));
  }
  if (r.tasks) {
    out.push('', `tasks (${r.tasks.file}, ${r.tasks.items} items):`);
    out.push(table(['task', 'items', 'acc', 'acc_norm', 'mean_k', 'k per layer'],
      r.tasks.tasks.map((t) => [t.task, String(t.items), f(t.acc), f(t.acc_norm), f(t.mean_k), t.mean_k_per_layer.map((k) => f(k, 2)).join(' ')])));
  }
  return out.join('\n');
}
