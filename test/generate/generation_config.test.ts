// generation_config.json's decoding defaults (interop §3.8) read as transformers reads them, and HF's
// repetition penalty against transformers' own greedy generate() on two committed checkpoints
// (scripts/ref/make_generation_refs.py → test/fixtures/generation/repetition_penalty.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../src/io/load.js';
import { GREEDY, generateTokens, generationDefaults } from '../../src/generate/index.js';
import { ConfigError } from '../../src/tensor/index.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

test('generation_config.json: do_sample false is greedy whatever the temperature; a sampling file gets transformers\' defaults for what it omits', () => {
  const at = 'dir/generation_config.json';
  assert.deepEqual(generationDefaults(null, at), { sampling: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 }, maxNewTokens: null, maxLength: null });
  assert.deepEqual(generationDefaults({ temperature: 0.6, top_p: 0.9, repetition_penalty: 1.1 }, at).sampling,
    { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1.1 });
  assert.deepEqual(generationDefaults({ do_sample: false, temperature: 0 }, at).sampling, { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 });
  assert.throws(() => generationDefaults({ do_sample: true, temperature: 0 }, at), /"temperature" must be a number > 0, got 0/);
  // Llama-2-chat's file: do_sample true, temperature 0.6, top_p 0.9, max_length 4096 (top_k: transformers' 50)
  assert.deepEqual(generationDefaults({ do_sample: true, temperature: 0.6, top_p: 0.9, max_length: 4096 }, at),
    { sampling: { temperature: 0.6, topK: 50, topP: 0.9, repetitionPenalty: 1 }, maxNewTokens: null, maxLength: 4096 });
  assert.deepEqual(generationDefaults({ do_sample: true, top_k: 0, max_new_tokens: 7 }, at),
    { sampling: { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 }, maxNewTokens: 7, maxLength: null });
  for (const [bad, message] of [
    [{ do_sample: 'yes' }, /dir\/generation_config.json: "do_sample" must be true or false, got "yes"/],
    [{ temperature: -1 }, /"temperature" must be a number > 0, got -1/],
    [{ top_p: 1.5 }, /"top_p" must be a number in \(0, 1\], got 1.5/],
    [{ top_k: 2.5 }, /"top_k" must be an integer >= 0, got 2.5/],
    [{ repetition_penalty: 0 }, /"repetition_penalty" must be a number > 0, got 0/],
    [{ max_new_tokens: 0 }, /"max_new_tokens" must be an integer >= 1, got 0/],
  ] as const) {
    assert.throws(() => generationDefaults(bad as Record<string, unknown>, at), (e: unknown) => e instanceof ConfigError && message.test(e.message));
  }
});

test('repetition penalty 1, 1.3 and 2.5: greedy KV-cache decoding gives transformers\' generate() tokens', () => {
  const ref = JSON.parse(readFileSync(FIXTURES + 'generation/repetition_penalty.json', 'utf8'));
  const outputs = new Map<string, number[][]>();
  for (const c of ref.cases as { model: string; repetition_penalty: number; prompt: number[]; new_tokens: number[] }[]) {
    const { model } = loadModel(FIXTURES + 'hf/' + c.model);
    const gen = generateTokens(model, c.prompt, { maxTokens: c.new_tokens.length, sampling: { ...GREEDY, repetitionPenalty: c.repetition_penalty }, eosIds: [] });
    const tokens = [...gen.stream];
    assert.deepEqual(tokens, c.new_tokens, `${c.model}, repetition_penalty ${c.repetition_penalty}`);
    outputs.set(c.model, [...(outputs.get(c.model) ?? []), tokens]);
  }
  for (const [model, runs] of outputs) assert.notDeepEqual(runs[0], runs[1], `${model}: the penalty changes the continuation`);
});
