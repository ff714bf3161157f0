// KV-cache generation against transformers' own greedy continuations (reference.json `greedy`): the
// shared Mixtral fixture and the tiny HF models of test/fixtures/hf (GQA and tied embeddings, q/k norms
// over the projection and per head, qkv biases, shared experts) — the attention variants the cached
// path must reproduce; DeepSeek-MoE v1 adds shared experts and dense first layers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../src/io/load.js';
import { GREEDY, generateTokens } from '../../src/generate/index.js';

const SHARED = fileURLToPath(new URL('../../../../shared/fixtures/', import.meta.url));
const OWN = fileURLToPath(new URL('../../../test/fixtures/hf/', import.meta.url));
const DIRS: [string, string][] = [
  ['mixtral', SHARED + 'mixtral'],
  ...['llama', 'olmoe', 'qwen2_moe', 'qwen3_moe', 'deepseek'].map((n): [string, string] => [n, OWN + n]),
];

for (const [name, dir] of DIRS) {
  test(`${name}: cached greedy generation reproduces transformers' greedy tokens`, { skip: existsSync(dir) ? false : `no fixture at ${dir}` }, () => {
    const ref = JSON.parse(readFileSync(`${dir}/reference.json`, 'utf8')).greedy as { prompt: number[]; new_tokens: number[] };
    const loaded = loadModel(dir);
    const gen = generateTokens(loaded.model, ref.prompt, { maxTokens: ref.new_tokens.length, sampling: GREEDY });
    assert.deepEqual([...gen.stream], ref.new_tokens);
  });
}
