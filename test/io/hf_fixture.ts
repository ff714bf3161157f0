// Shared checks of a model directory against a reference.json made by HuggingFace transformers
// (shared/fixtures/README.md): logits at every position within 1e-4, the same experts and weights per
// token and MoE layer, the LM loss, and the greedy continuation.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel, type LoadedModel } from '../../src/io/load.js';
import type { MoeRouting } from '../../src/moe/index.js';
import type { LayerReport } from '../../src/nn/index.js';
import { noGrad } from '../../src/tensor/index.js';
import { tokenRouting, type LayerRouting } from '../../src/eval/inspect.js';

/** dist/test/io/ → the repository root → ../shared/fixtures/<name> */
export function fixtureDir(name: string): string {
  return fileURLToPath(new URL(`../../../../shared/fixtures/${name}/`, import.meta.url));
}

export function fixtureSkip(name: string): string | false {
  return existsSync(fixtureDir(name)) ? false : `fixtures not found at ${fixtureDir(name)}`;
}

export function readReference(name: string, dir = fixtureDir(name)): any {
  return JSON.parse(readFileSync(dir + 'reference.json', 'utf8'));
}

/** Logits [T, V] and the layer reports of one sequence (batch 1). */
export function run(loaded: LoadedModel, ids: readonly number[]): { logits: Float32Array; reports: LayerReport[] } {
  return noGrad(() => {
    const reports: LayerReport[] = [];
    const logits = loaded.model.forward(Int32Array.from(ids), 1, ids.length, { training: false, step: 0 }, reports);
    return { logits: logits.data.slice(), reports };
  });
}

/** Per token, the experts of one MoE layer by descending weight (ties: lower id), with their weights. */
export const expertsByWeight = (routing: MoeRouting): LayerRouting => tokenRouting(0, routing);

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Mean next-token cross-entropy of logits [T, V] against ids shifted by one. */
export function lmLoss(logits: Float32Array, ids: readonly number[], V: number): number {
  let sum = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = logits.subarray(t * V, (t + 1) * V);
    const max = Math.max(...row);
    let z = 0;
    for (const v of row) z += Math.exp(v - max);
    sum += Math.log(z) + max - row[ids[t + 1]];
  }
  return sum / (ids.length - 1);
}

/** Greedy continuation by a no-cache argmax loop. */
export function greedy(loaded: LoadedModel, prompt: readonly number[], n: number): number[] {
  const ids = [...prompt];
  const V = loaded.config.vocab_size;
  for (let i = 0; i < n; i++) {
    const { logits } = run(loaded, ids);
    const last = logits.subarray((ids.length - 1) * V);
    let best = 0;
    for (let v = 1; v < V; v++) if (last[v] > last[best]) best = v;
    ids.push(best);
  }
  return ids.slice(prompt.length);
}

/** Every check of a transformers fixture (reference.json `sequences`, `greedy`) in `dir` (default: shared). */
export function checkTransformersFixture(name: string, dir = fixtureDir(name)): { loaded: LoadedModel; reports: LayerReport[][] } {
  const loaded = loadModel(dir);
  const ref = readReference(name, dir);
  const V = loaded.config.vocab_size;
  const allReports: LayerReport[][] = [];
  for (const [s, seq] of (ref.sequences as any[]).entries()) {
    const { logits, reports } = run(loaded, seq.input_ids);
    allReports.push(reports);
    const diff = maxAbsDiff(logits, (seq.logits as number[][]).flat());
    assert.ok(diff <= 1e-4, `${name} sequence ${s}: max |logit − reference| = ${diff}`);
    assert.ok(Math.abs(lmLoss(logits, seq.input_ids, V) - seq.lm_loss) <= 1e-4, `${name} sequence ${s}: LM loss`);
    const moe = reports.filter((r) => r.routing);
    assert.equal(moe.length, seq.moe.length, 'one report per MoE layer');
    for (const [m, layer] of (seq.moe as any[]).entries()) {
      const routing = moe[m].routing as MoeRouting;
      assert.equal(moe[m].layer, layer.layer, 'MoE layer index');
      const { experts, weights } = expertsByWeight(routing);
      assert.deepEqual(experts, layer.topk_indices, `${name} sequence ${s} layer ${layer.layer}: experts per token`);
      const w = maxAbsDiff(weights.flat(), (layer.topk_weights as number[][]).flat());
      assert.ok(w <= 1e-5, `${name} sequence ${s} layer ${layer.layer}: weights differ by ${w}`);
    }
  }
  assert.deepEqual(greedy(loaded, ref.greedy.prompt, ref.greedy.new_tokens.length), ref.greedy.new_tokens, `${name}: greedy continuation`);
  return { loaded, reports: allReports };
}
