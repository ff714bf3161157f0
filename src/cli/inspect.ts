// `moekit inspect`: the experts each token of a text used, per MoE layer — with the model's own router
// or any other (--router top_p --top-p 0.5 on a Mixtral checkpoint). JSON for scripts, a table for people.
import { dirname, resolve } from 'node:path';
import { loadModel } from '../io/load.js';
import { loadHfTokenizer } from '../data/index.js';
import { inspectRouting, type Inspection } from '../eval/inspect.js';
import type { Command } from './command.js';
import { parseFlags, stringFlag, UsageError } from './args.js';
import { THREADS_FLAG, THREADS_USAGE, applyThreadsFlag } from './threads_flag.js';
import { WEIGHTS_FLAG, WEIGHTS_USAGE, weightsFromFlags } from './weights_flag.js';
import { ROUTER_FLAGS, ROUTER_USAGE, routerFromFlags } from './router_flags.js';

const USAGE = `moekit inspect --model DIR (--text "…" | --ids 1,2,3) [options]

  --model DIR        a moekit run directory or a HuggingFace model directory
  --text TEXT        the text to route (tokenized with the directory's tokenizer.json, special tokens added)
  --ids LIST         token ids instead of text, comma-separated
  --logits           include the logits of every position (JSON only)
${ROUTER_USAGE}
  --json             print {"tokens", "ids", "layers": [{"layer", "experts", "weights"}], "mean_k", "logits"?}
${THREADS_USAGE}
${WEIGHTS_USAGE}`;

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'which experts each token of a text uses, per MoE layer (any router)',
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags('inspect', argv, {
      model: { type: 'string' }, text: { type: 'string' }, ids: { type: 'string' }, logits: { type: 'boolean' },
      ...ROUTER_FLAGS, json: { type: 'boolean' }, ...THREADS_FLAG, ...WEIGHTS_FLAG,
    });
    const dir = stringFlag(values.model);
    if (!dir) throw new UsageError('moekit inspect: --model DIR is required', 'see moekit inspect --help');
    const text = stringFlag(values.text);
    const idsFlag = stringFlag(values.ids);
    if ((text === undefined) === (idsFlag === undefined)) throw new UsageError('moekit inspect: give exactly one of --text and --ids');
    applyThreadsFlag('inspect', values);
    const router = routerFromFlags('inspect', values);

    const loaded = loadModel(resolve(dir), { weights: weightsFromFlags(values) });
    if (router) loaded.model.setRouter(router);
    // tokenizer_config.json's add_bos_token and added tokens apply, as in transformers.
    const tokenizer = loaded.tokenizerPath ? loadHfTokenizer(dirname(loaded.tokenizerPath)).tokenizer : null;
    let ids: number[];
    if (text !== undefined) {
      if (!tokenizer) throw new UsageError(`moekit inspect: ${dir} has no tokenizer.json`, 'pass --ids instead of --text');
      ids = tokenizer.encode(text);
    } else {
      ids = idsFlag!.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
        if (!/^\d+$/.test(s)) throw new UsageError(`moekit inspect: --ids must be comma-separated token ids, got "${s}"`);
        return Number(s);
      });
    }
    if (ids.length > loaded.config.max_position_embeddings) {
      throw new UsageError(`moekit inspect: ${ids.length} tokens exceed the model's max_position_embeddings ${loaded.config.max_position_embeddings}`);
    }
    const result = inspectRouting(loaded.model, ids, { logits: Boolean(values.logits) });
    const tokens = ids.map((id) => tokenizer?.decode([id]) ?? `<${id}>`);
    if (values.json) {
      process.stdout.write(JSON.stringify({ tokens, ...result }) + '\n');
      return;
    }
    process.stdout.write(table(tokens, result, loaded.config.moe?.router ?? null) + '\n');
  },
};

/** One row per token: position, id, the token's text, then `expert (weight)` lists per MoE layer. */
function table(tokens: string[], r: Inspection, router: unknown): string {
  if (r.layers.length === 0) return `${r.ids.length} tokens; this model is dense (no MoE layers)`;
  const head = ['pos', 'id', 'token', ...r.layers.map((l) => `layer ${l.layer}`)];
  const rows = r.ids.map((id, t) => [String(t), String(id), JSON.stringify(tokens[t]),
    ...r.layers.map((l) => l.experts[t].map((e, j) => `${e} (${l.weights[t][j].toFixed(2)})`).join(' ') || '(dropped)')]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i < 2 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ').trimEnd();
  const perLayer = r.layers.map((l) => `layer ${l.layer} ${(l.experts.reduce((s, e) => s + e.length, 0) / r.ids.length).toFixed(2)}`).join(', ');
  return [`router ${JSON.stringify(router)}`, line(head), ...rows.map(line),
    `mean experts per token ${r.mean_k!.toFixed(3)} (${perLayer})`].join('\n');
}
