// KV-cache generation against the oracle of a no-cache loop: greedy generation through forwardCached
// must pick the same tokens as argmax over model.forward on the whole sequence so far, and its logits
// must match forward's last row, for dense and MoE (top-2, top-p) tiny models, GQA included, on the
// native and the reference backend. Also: chunked prefill (Tq > 1 after start > 0), rewinding the cache,
// the cache's errors, and attendCached with MLA-shaped heads against attention computed by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backend, referenceBackend, setBackend, tryNativeBackend, type Backend } from '../../src/backend/index.js';
import { DecoderLM, parseModelConfig } from '../../src/models/index.js';
import { Tensor, noGrad } from '../../src/tensor/index.js';
import { KVCache, attendCached } from '../../src/nn/index.js';
import { TestRng, rand } from '../helpers.js';
import { argmax, generateTokens, GREEDY, DecodeSession } from '../../src/generate/index.js';

const BASE = {
  vocab_size: 37, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, head_dim: 6, max_position_embeddings: 32, initializer_range: 0.5,
};
const MODELS: Record<string, Record<string, unknown>> = {
  dense: BASE,
  top2: { ...BASE, num_experts: 4, moe_intermediate_size: 16, router: { type: 'top_k', k: 2, renormalize: true } },
  topp: { ...BASE, num_experts: 4, moe_intermediate_size: 16, router: { type: 'top_p', top_p: 0.6 } },
};
const PROMPT = [3, 17, 5, 30, 1, 8, 22];

/** The last row of model.forward over the whole sequence (no cache): the oracle. */
function fullLogits(model: DecoderLM, ids: number[]): Float32Array {
  return noGrad(() => {
    const V = model.config.vocab_size;
    const logits = model.forward(Int32Array.from(ids), 1, ids.length).data;
    return logits.slice((ids.length - 1) * V);
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const backends: Backend[] = [referenceBackend, ...(tryNativeBackend() ? [tryNativeBackend()!] : [])];
const initial = backend();

for (const be of backends) {
  for (const [name, raw] of Object.entries(MODELS)) {
    test(`${name} (${be.name}): cached greedy decode = no-cache argmax loop, logits within 1e-4`, () => {
      setBackend(be);
      try {
        const model = new DecoderLM(parseModelConfig(raw), { seed: 5 });
        const steps = 12;
        const session = new DecodeSession(model, PROMPT.length + steps);
        const seq = [...PROMPT];
        let logits = session.prefill(Int32Array.from(PROMPT));
        for (let s = 0; s < steps; s++) {
          const want = fullLogits(model, seq);
          assert.ok(maxAbsDiff(logits, want) < 1e-4, `step ${s}: max |Δlogit| ${maxAbsDiff(logits, want)}`);
          assert.equal(argmax(logits), argmax(want), `step ${s}`);
          seq.push(argmax(want));
          if (s + 1 < steps) logits = session.step(seq[seq.length - 1]);
        }
        // generateTokens (greedy) walks the same path
        const gen = generateTokens(model, PROMPT, { maxTokens: steps, sampling: GREEDY });
        assert.deepEqual([...gen.stream], seq.slice(PROMPT.length));
        assert.equal(gen.stats.finishReason, 'length');
        assert.equal(gen.stats.completionTokens, steps);
      } finally {
        setBackend(initial);
      }
    });
  }
}

test('chunked prefill (new rows after cached ones) and rewinding give forward\'s logits for every new row', () => {
  const model = new DecoderLM(parseModelConfig(MODELS.top2), { seed: 9 });
  const ids = [4, 9, 1, 33, 2, 7, 7, 12, 0, 36];
  const cache = model.newKVCache(16);
  const V = model.config.vocab_size;
  const rows = (from: number, to: number) => noGrad(() =>
    model.forwardCached(Int32Array.from(ids.slice(from, to)), cache, from).data.slice());
  const full = noGrad(() => model.forward(Int32Array.from(ids), 1, ids.length).data.slice());
  rows(0, 4);
  const chunk = rows(4, 10); // Tq = 6 at start = 4
  assert.ok(maxAbsDiff(chunk, full.slice(4 * V)) < 1e-4);
  assert.equal(cache.length, 10);
  const again = rows(6, 10); // rewind to 6: positions 6.. are recomputed
  assert.ok(maxAbsDiff(again, full.slice(6 * V)) < 1e-4);
  const last = noGrad(() => model.forwardCached(Int32Array.of(ids[9]), cache, 9, { lastOnly: true }).data.slice());
  assert.ok(maxAbsDiff(last, full.slice(9 * V)) < 1e-4);
  const lastOfChunk = noGrad(() => model.forwardCached(Int32Array.from(ids.slice(2)), cache, 2, { lastOnly: true }));
  assert.deepEqual(lastOfChunk.shape, [1, V]);
  assert.ok(maxAbsDiff(lastOfChunk.data, full.slice(9 * V)) < 1e-4);
});

test('the KV cache refuses to overflow, to skip positions, and to exceed max_position_embeddings', () => {
  const model = new DecoderLM(parseModelConfig(BASE), { seed: 1 });
  const cache = model.newKVCache(4);
  noGrad(() => model.forwardCached(Int32Array.of(1, 2, 3), cache, 0));
  assert.throws(() => noGrad(() => model.forwardCached(Int32Array.of(1, 2), cache, 3)), /KV cache full: 3 cached \+ 2 new positions exceed its 4/);
  assert.equal(cache.length, 3, 'a refused pass leaves the cache as it was');
  assert.throws(() => noGrad(() => model.forwardCached(Int32Array.of(1), cache, 5)), /positionsStart 5 is past the 3 cached positions/);
  assert.throws(() => model.newKVCache(33), /33 positions exceed max_position_embeddings 32/);
  assert.throws(() => generateTokens(model, [], { maxTokens: 2, sampling: GREEDY }), /no tokens/);
  assert.throws(() => generateTokens(model, [40], { maxTokens: 2, sampling: GREEDY }), /prompt id 40 at 0 is outside the vocabulary \[0, 37\)/);
  cache.reset();
  assert.equal(cache.length, 0);
});

test('attendCached with MLA-shaped heads (q/k width 16, v width 8, GQA 4:2, own scale) = attention by hand', () => {
  const nh = 4, nkv = 2, dk = 16, dv = 8, scale = 0.3;
  const rng = new TestRng(21);
  const rows = 5; // a prefill of 3 rows, then two decode steps
  const q = rand(rng, rows * nh * dk), k = rand(rng, rows * nkv * dk), v = rand(rng, rows * nkv * dv);
  const cache = new KVCache(8, [{ keyWidth: nkv * dk, valueWidth: nkv * dv }]);
  const shape = { heads: nh, kvHeads: nkv, headDim: dk, valueDim: dv, scale };
  const got: number[] = [];
  for (const [from, to] of [[0, 3], [3, 4], [4, 5]]) {
    const slice = (x: Float32Array, w: number) => new Tensor(x.slice(from * w, to * w), [to - from, w]);
    got.push(...noGrad(() => attendCached(slice(q, nh * dk), slice(k, nkv * dk), slice(v, nkv * dv), shape, cache, 0).data));
    cache.commit(to - from);
  }
  // by hand: row t, head h sees keys 0..t of kv head floor(h·nkv/nh)
  for (let t = 0; t < rows; t++) {
    for (let h = 0; h < nh; h++) {
      const g = Math.floor((h * nkv) / nh);
      const s = Array.from({ length: t + 1 }, (_, j) => {
        let dot = 0;
        for (let d = 0; d < dk; d++) dot += q[(t * nh + h) * dk + d] * k[(j * nkv + g) * dk + d];
        return scale * dot;
      });
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < dv; d++) {
        let want = 0;
        for (let j = 0; j <= t; j++) want += (e[j] / z) * v[(j * nkv + g) * dv + d];
        const at = (t * nh + h) * dv + d;
        assert.ok(Math.abs(got[at] - want) < 1e-5, `row ${t} head ${h} [${d}]: ${got[at]} vs ${want}`);
      }
    }
  }
  assert.throws(() => attendCached(new Tensor(q.slice(0, nh * dk), [1, nh * dk]), new Tensor(k.slice(0, nkv * dk), [1, nkv * dk]),
    new Tensor(v.slice(0, nkv * dk), [1, nkv * dk]), { ...shape, valueDim: dk }, cache, 0), /caches rows of 32 keys \/ 16 values/);
});
