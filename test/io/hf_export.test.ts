// convert --to hf as a library call: every export reloads through moekit's loader with the same logits
// (F32 exactly; BF16 within its rounding), an HF checkpoint is written back in its own architecture with
// its own tensor names, and moekit models take the HF architecture they are exactly (mixtral, llama).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/io/load.js';
import { exportHf } from '../../src/io/hf/export.js';
import { openSafetensors, writeSafetensors, fromFloat32 } from '../../src/io/safetensors/index.js';
import { DecoderLM, parseModelConfig, toHfConfig } from '../../src/models/index.js';
import { fixtureDir, fixtureSkip, maxAbsDiff, run } from './hf_fixture.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'moekit-hfexport-'));
const IDS = [3, 9, 1, 14, 7, 2, 11];

function tensorNames(file: string): string[] {
  const r = openSafetensors(file);
  try {
    return [...r.tensors.keys()].sort();
  } finally {
    r.close();
  }
}

for (const name of ['mixtral', 'dynmoe']) {
  test(`${name}: written back in its own architecture, names and config; reloads with identical logits`, { skip: fixtureSkip(name) }, () => {
    const src = loadModel(fixtureDir(name));
    const out = join(tmp(), 'out');
    const res = exportHf(src.model, out, { sourceDir: src.dir, source: src });
    assert.equal(res.architecture, name);
    assert.deepEqual(tensorNames(join(out, 'model.safetensors')), tensorNames(join(fixtureDir(name), 'model.safetensors')));
    const back = loadModel(out);
    assert.equal(back.architecture.modelType, name);
    assert.equal(maxAbsDiff(run(back, IDS).logits, run(src, IDS).logits), 0);
    assert.throws(() => exportHf(src.model, out, { source: src }), /already exists/);
  });
}

/** A tiny moekit model written as a moekit run directory (config.json + model.safetensors). */
function moekitDir(extra: Record<string, unknown>): string {
  const config = parseModelConfig({
    vocab_size: 16, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 2, num_attention_heads: 2,
    num_key_value_heads: 1, max_position_embeddings: 16, initializer_range: 0.4, ...extra,
  });
  const model = new DecoderLM(config, { seed: 4 });
  const dir = tmp();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(config)));
  writeSafetensors(join(dir, 'model.safetensors'), [...model.params].map(([n, p]) => fromFloat32(n, p.shape, p.data)));
  return dir;
}

for (const [label, extra, arch] of [
  ['renormalised top-2 in every layer', { num_experts: 4, router: { type: 'top_k', k: 2 }, moe_intermediate_size: 12 }, 'mixtral'],
  ['dense', {}, 'llama'],
  ['Top-P', { num_experts: 4, router: { type: 'top_p', top_p: 0.5 } }, 'moekit_moe'],
] as const) {
  test(`moekit ${label} model → HF ${arch}; reloads with the same logits (F32 exact, BF16 close)`, () => {
    const src = loadModel(moekitDir(extra));
    const out = join(tmp(), 'hf');
    assert.equal(exportHf(src.model, out, { source: src }).architecture, arch);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.equal(config.model_type, arch);
    const back = loadModel(out);
    assert.equal(maxAbsDiff(run(back, IDS).logits, run(src, IDS).logits), 0);
    const bf = join(tmp(), 'bf16');
    exportHf(src.model, bf, { source: src, dtype: 'BF16' });
    assert.equal(JSON.parse(readFileSync(join(bf, 'config.json'), 'utf8')).torch_dtype, 'bfloat16');
    const d = maxAbsDiff(run(loadModel(bf), IDS).logits, run(src, IDS).logits);
    assert.ok(d > 0 && d < 0.05, `bf16 logits differ by ${d}`);
  });
}
