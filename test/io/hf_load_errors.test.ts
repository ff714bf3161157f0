// Bad model directories get errors naming the file, the tensor or field, and what was expected — never a
// crash or a silently wrong model (interop §3.10: never random-initialise on load).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/io/load.js';
import { openSafetensors, writeSafetensors, type SafetensorsTensor } from '../../src/io/safetensors/index.js';
import { fixtureDir, fixtureSkip } from './hf_fixture.js';

/** A writable copy of the Mixtral fixture, its config and its tensors. */
function copy(): { dir: string; config: Record<string, unknown>; tensors: SafetensorsTensor[] } {
  const dir = join(mkdtempSync(join(tmpdir(), 'moekit-hfbad-')), 'mixtral');
  cpSync(fixtureDir('mixtral'), dir, { recursive: true });
  const r = openSafetensors(join(dir, 'model.safetensors'));
  const tensors = [...r.tensors.keys()].map((n) => r.read(n));
  r.close();
  return { dir, config: JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), tensors };
}

function rewrite(dir: string, tensors: SafetensorsTensor[]): void {
  rmSync(join(dir, 'model.safetensors'));
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
}

test('model directories that cannot become the model are refused, naming what is wrong', { skip: fixtureSkip('mixtral') }, () => {
  let c = copy();
  writeFileSync(join(c.dir, 'config.json'), JSON.stringify({ ...c.config, model_type: 'gpt_neox' }));
  assert.throws(() => loadModel(c.dir), /model_type "gpt_neox" is not supported.*|supported: llama, moekit_moe, mixtral, olmoe, qwen2_moe, qwen3_moe, deepseek/);

  c = copy();
  rewrite(c.dir, c.tensors.filter((t) => t.name !== 'model.layers.1.block_sparse_moe.experts.3.w2.weight'));
  assert.throws(() => loadModel(c.dir), /missing 1 tensor\(s\).*model\.layers\.1\.mlp\.experts\.3\.down_proj\.weight \[32, 36\]/);

  c = copy();
  rewrite(c.dir, [...c.tensors, { ...c.tensors[0], name: 'model.layers.0.self_attn.q_norm.weight' }]);
  assert.throws(() => loadModel(c.dir), /model\.safetensors: tensor model\.layers\.0\.self_attn\.q_norm\.weight has no place/);

  c = copy();
  writeFileSync(join(c.dir, 'config.json'), JSON.stringify({ ...c.config, num_local_experts: 6 }));
  assert.throws(() => loadModel(c.dir), /has no place|missing/);

  c = copy();
  writeFileSync(join(c.dir, 'config.json'), JSON.stringify({ ...c.config, intermediate_size: 40 }));
  assert.throws(() => loadModel(c.dir), /tensor model\.layers\.0\.block_sparse_moe\.experts\.0\.w1\.weight has shape \[36, 32\], config\.json gives \[40, 32\]/);

  c = copy();
  rewrite(c.dir, c.tensors.map((t) => t.name === 'model.norm.weight' ? { name: t.name, dtype: 'I32', shape: t.shape, data: new Int32Array(t.shape[0]) } as SafetensorsTensor : t));
  assert.throws(() => loadModel(c.dir), /tensor model\.norm\.weight is I32, expected F32, F16 or BF16/);

  c = copy();
  writeFileSync(join(c.dir, 'config.json'), JSON.stringify({ ...c.config, rope_parameters: { rope_type: 'dynamic', factor: 4 } }));
  assert.throws(() => loadModel(c.dir), /rope type "dynamic" is not supported \(default, linear, llama3, yarn are\)/);
  writeFileSync(join(c.dir, 'config.json'), JSON.stringify({ ...c.config, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 8192 } }));
  assert.throws(() => loadModel(c.dir), /"high_freq_factor" \(1\) must exceed low_freq_factor \(4\)/);
  writeFileSync(join(c.dir, 'config.json'), JSON.stringify({ ...c.config, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 } }));
  assert.throws(() => loadModel(c.dir), /"original_max_position_embeddings"/);

  c = copy();
  writeFileSync(join(c.dir, 'config.json'), JSON.stringify({ ...c.config, rope_parameters: { rope_type: 'yarn', factor: 4 } }));
  assert.throws(() => loadModel(c.dir), /config\.json: "rope_parameters" \(YaRN\) needs "original_max_position_embeddings", a positive integer, got undefined/);

  c = copy();
  writeFileSync(join(c.dir, 'config.json'), JSON.stringify({ ...c.config, sliding_window: 16 }));
  assert.throws(() => loadModel(c.dir), /"sliding_window" = 16 is not supported: sliding-window attention/);

  c = copy();
  writeFileSync(join(c.dir, 'config.json'), '{"model_type": "mixtral", ');
  assert.throws(() => loadModel(c.dir), /config\.json is not valid JSON/);

  c = copy();
  const file = join(c.dir, 'model.safetensors');
  truncateSync(file, statSync(file).size - 100);
  assert.throws(() => loadModel(c.dir), /model\.safetensors/);

  c = copy();
  rmSync(join(c.dir, 'model.safetensors'));
  assert.throws(() => loadModel(c.dir), /has no weights: looked for model\.safetensors, model\.safetensors\.index\.json, pytorch_model\.bin/);
});
