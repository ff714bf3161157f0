// 16-bit inference weights (loadModel `weights`, `--weights`): Linear and expert matrices stay bf16/f16
// in memory and the matmul kernels widen them as they read. Oracles: transformers' reference logits of
// the BF16 llama fixture; the f32 load of the same file (widening is exact, so a BF16 file must give the
// very same logits and tokens); and, for rounding an F32 file to f16, the f32 model whose matrices were
// rounded through f16 by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, ModelLoadError, parseWeightsOption, type LoadedModel } from '../../src/io/load.js';
import { exportHf } from '../../src/io/hf/export.js';
import { exportGguf, planGguf, writeGguf } from '../../src/io/gguf/index.js';
import { Tokenizer } from '../../src/data/index.js';
import { GgufError } from '../../src/io/errors.js';
import { referenceBackend } from '../../src/backend/index.js';
import { generateTokens, GREEDY } from '../../src/generate/index.js';
import { ConfigError, DtypeError, withGraph } from '../../src/tensor/index.js';
import { greedy, lmLoss, maxAbsDiff, run } from './hf_fixture.js';
import { makeModel, writeRunDir } from './gguf_models.js';

const OWN_FIXTURES = fileURLToPath(new URL('../../../test/fixtures/hf/', import.meta.url));
const MOE = { num_experts: 4, moe_intermediate_size: 64, router: { type: 'top_k', k: 2, renormalize: true } };

/** Bytes the parameters occupy (shared expert stacks counted once per slice). */
function weightBytes(loaded: LoadedModel): number {
  let n = 0;
  for (const p of loaded.model.params.values()) n += p.half ? p.half.bits.byteLength : p.data.byteLength;
  return n;
}

function greedyDecode(loaded: LoadedModel, prompt: number[], n: number): number[] {
  const gen = generateTokens(loaded.model, prompt, { maxTokens: n, sampling: GREEDY });
  return [...gen.stream];
}

test('BF16 llama fixture, --weights auto: Linear and embedding weights stay bf16 (norms, biases f32), transformers logits within 1e-4, bit-identical to the f32 load', () => {
  const dir = OWN_FIXTURES + 'llama';
  const ref = JSON.parse(readFileSync(`${dir}/reference.json`, 'utf8'));
  const half = loadModel(dir, { weights: 'auto' });
  const full = loadModel(dir);
  const params = half.model.params;
  assert.equal(params.get('model.layers.0.self_attn.q_proj.weight')!.half?.dtype, 'bf16');
  assert.equal(params.get('model.layers.0.mlp.down_proj.weight')!.half?.dtype, 'bf16');
  assert.equal(params.get('model.embed_tokens.weight')!.half?.dtype, 'bf16', 'gathered rows and the tied head widen it');
  assert.equal(params.get('model.layers.0.input_layernorm.weight')!.half, null);
  assert.equal(params.get('model.layers.0.self_attn.q_proj.bias')!.half, null);
  assert.ok(weightBytes(half) < 0.55 * weightBytes(full), `bf16 ${weightBytes(half)} B against f32 ${weightBytes(full)} B`);
  for (const [s, seq] of (ref.sequences as any[]).entries()) {
    const got = run(half, seq.input_ids).logits;
    assert.deepEqual(got, run(full, seq.input_ids).logits, `sequence ${s}: bf16-held weights compute what their f32 widening computes`);
    assert.ok(maxAbsDiff(got, (seq.logits as number[][]).flat()) <= 1e-4, `sequence ${s}: against transformers`);
    assert.ok(Math.abs(lmLoss(got, seq.input_ids, half.config.vocab_size) - seq.lm_loss) <= 1e-4);
  }
  assert.deepEqual(greedy(half, ref.greedy.prompt, ref.greedy.new_tokens.length), ref.greedy.new_tokens);
  assert.deepEqual(greedyDecode(half, ref.greedy.prompt, ref.greedy.new_tokens.length), ref.greedy.new_tokens, 'KV-cache decode (GEMV path)');
});

test('BF16 MoE checkpoint: expert stacks held bf16, router f32; prefill logits and KV-cache decode bit-identical to the f32 load', () => {
  const root = mkdtempSync(join(tmpdir(), 'moekit-half-'));
  const runDir = writeRunDir(makeModel(MOE, 11));
  try {
    const out = join(root, 'bf16');
    exportHf(loadModel(runDir).model, out, { dtype: 'BF16' });
    const half = loadModel(out, { weights: 'auto' });
    const full = loadModel(out, { weights: 'f32' });
    const p = half.model.params;
    assert.equal(p.get('model.layers.0.mlp.experts.3.up_proj.weight')!.half?.dtype, 'bf16');
    assert.equal(p.get('model.layers.0.mlp.gate.weight')!.half, null, 'routing decisions stay exact');
    assert.equal(p.get('lm_head.weight')!.half?.dtype, 'bf16');
    const ids = Array.from({ length: 21 }, (_, i) => (i * 37 + 5) % half.config.vocab_size);
    assert.deepEqual(run(half, ids).logits, run(full, ids).logits, 'prefill (packed path, grouped experts)');
    const tokens = greedyDecode(full, ids.slice(0, 5), 12);
    assert.deepEqual(greedyDecode(half, ids.slice(0, 5), 12), tokens, 'decode (GEMV path)');
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
  }
});

test('--weights f16 on an F32 checkpoint rounds every matrix but the router to f16: the f32 model with those matrices rounded by hand computes the same', () => {
  const dir = OWN_FIXTURES + 'olmoe';
  const half = loadModel(dir, { weights: 'f16' });
  const rounded = loadModel(dir);
  const bits = new Uint16Array(0x100000);
  for (const [name, p] of rounded.model.params) {
    const h = half.model.params.get(name)!;
    assert.equal(h.half !== null, p.shape.length === 2 && !name.endsWith('mlp.gate.weight'), name);
    if (!h.half) continue;
    const b = bits.subarray(0, p.size);
    referenceBackend.f32ToF16(b, p.data, p.size);
    referenceBackend.f16ToF32(p.data, b, p.size);
    assert.deepEqual(h.half.bits, b, `${name}: the stored bits are the round-to-nearest-even f16 of the file's values`);
  }
  const ids = [3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46];
  assert.deepEqual(run(half, ids).logits, run(rounded, ids).logits);
});

test('a 16-bit model is for inference: gradients and raw-weight reads are refused with the way out', () => {
  const loaded = loadModel(OWN_FIXTURES + 'llama', { weights: 'bf16' });
  const ids = Int32Array.from([1, 2, 3]);
  assert.throws(() => withGraph(() => loaded.model.forward(ids, 1, 3, { training: true, step: 0 })),
    (e: unknown) => e instanceof DtypeError && /held as bf16 for inference/.test(e.message) && /--weights f32/.test(e.hint ?? ''));
  assert.throws(() => loaded.model.params.get('lm_head.weight')?.data ?? loaded.model.params.get('model.embed_tokens.weight')!.data,
    (e: unknown) => e instanceof DtypeError && /\[\d+, \d+\] weight is held as bf16/.test(e.message));
  assert.throws(() => parseWeightsOption('f8', 'moekit generate --weights'),
    (e: unknown) => e instanceof ConfigError && /unknown weights dtype "f8"/.test(e.message) && /auto, f32, bf16, f16/.test(e.hint ?? ''));
});

// Exports read 16-bit weights as held (same dtype: the bits themselves) or widened one tensor at a time:
// the files must be byte for byte those exported from the f32 load of the same checkpoint.
test('exports of a bf16-held model equal those of its f32 load, byte for byte (HF BF16 and F32, GGUF bf16 and f16)', () => {
  const root = mkdtempSync(join(tmpdir(), 'moekit-half-'));
  const runDir = writeRunDir(makeModel(MOE, 12));
  try {
    const bf16Dir = join(root, 'bf16');
    exportHf(loadModel(runDir).model, bf16Dir, { dtype: 'BF16' });
    tokenizerInto(runDir, bf16Dir);
    const held = loadModel(bf16Dir, { weights: 'auto' });
    const wide = loadModel(bf16Dir, { weights: 'f32' });
    assert.equal(held.model.params.get('lm_head.weight')!.half?.dtype, 'bf16');
    for (const dtype of ['BF16', 'F32'] as const) {
      exportHf(held.model, join(root, `held-${dtype}`), { dtype });
      exportHf(wide.model, join(root, `wide-${dtype}`), { dtype });
      assert.ok(readFileSync(join(root, `held-${dtype}`, 'model.safetensors')).equals(readFileSync(join(root, `wide-${dtype}`, 'model.safetensors'))), `HF ${dtype}`);
    }
    assert.ok(readFileSync(join(root, 'held-BF16', 'model.safetensors')).equals(readFileSync(join(bf16Dir, 'model.safetensors'))), 'BF16 → BF16 rewrites the same file');
    for (const dtype of ['bf16', 'f16'] as const) {
      const out = join(root, `model-${dtype}.gguf`);
      exportGguf(bf16Dir, out, { dtype }); // loads with --weights auto: bf16-held
      const tokenizer = Tokenizer.load(join(bf16Dir, 'tokenizer.json'));
      const plan = planGguf(wide.config, wide.model.params, tokenizer, { dtype, name: 'bf16' }, bf16Dir);
      writeGguf(join(root, `wide-${dtype}.gguf`), plan.metadata, plan.tensors);
      assert.ok(readFileSync(out).equals(readFileSync(join(root, `wide-${dtype}.gguf`))), `GGUF ${dtype}`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
  }
});

function tokenizerInto(from: string, to: string): void {
  writeFileSync(join(to, 'tokenizer.json'), readFileSync(join(from, 'tokenizer.json')));
}

test('f16 refuses a weight beyond float16\'s range (it would become infinite), naming the tensor: --weights f16, HF F16 and GGUF f16 exports; bf16 holds it', () => {
  const model = makeModel({}, 13);
  model.params.get('model.layers.1.mlp.up_proj.weight')!.data[7] = -1e5;
  const dir = writeRunDir(model);
  try {
    assert.throws(() => loadModel(dir, { weights: 'f16' }), (e: unknown) => e instanceof ModelLoadError
      && /model\.safetensors: tensor model\.layers\.1\.mlp\.up_proj\.weight: a value of magnitude 100000 is beyond float16's range \(±65504\)/.test(e.message)
      && /--weights bf16/.test(e.hint ?? ''));
    const held = loadModel(dir, { weights: 'bf16' }).model.params.get('model.layers.1.mlp.up_proj.weight')!;
    assert.equal(held.half!.bits[7], 0xc7c3); // −1e5 to the nearest bf16: −99840 = −1.5234375 · 2^16
    const beyond = /tensor model\.layers\.1\.mlp\.up_proj\.weight: a value of magnitude 100000 is beyond float16's range \(±65504\)/;
    assert.throws(() => exportHf(model, join(dir, 'hf'), { dtype: 'F16' }), (e: unknown) => e instanceof ModelLoadError && beyond.test(e.message));
    assert.ok(!existsSync(join(dir, 'hf')), 'nothing half-written');
    assert.throws(() => exportGguf(dir, join(dir, 'model.gguf'), { dtype: 'f16' }), (e: unknown) => e instanceof GgufError
      && /tensor blk\.1\.ffn_up\.weight: a value of magnitude 100000 is beyond float16's range/.test(e.message) && /--dtype bf16/.test(e.hint ?? ''));
    assert.ok(!existsSync(join(dir, 'model.gguf')), 'nothing half-written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
