// `moekit inspect` on the Mixtral fixture: its native routing equals transformers' top-k per token and
// layer, and a Top-P override (--router top_p --top-p 0.7) gives, per token, the fewest experts whose
// softmax mass of transformers' own router logits exceeds p, with raw probabilities as weights (§1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fixtureDir, fixtureSkip, readReference } from '../io/hf_fixture.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function moekit(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Top-P by hand from router logits: descending softmax, keep experts until the mass exceeds p. */
function topP(logits: number[], p: number): { experts: number[]; weights: number[] } {
  const max = Math.max(...logits);
  const e = logits.map((z) => Math.exp(z - max));
  const sum = e.reduce((a, b) => a + b, 0);
  const probs = e.map((x) => x / sum);
  const order = probs.map((_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
  const experts: number[] = [];
  let mass = 0;
  for (const i of order) {
    experts.push(i);
    mass += probs[i];
    if (mass > p) break;
  }
  return { experts, weights: experts.map((i) => probs[i]) };
}

test('inspect --ids --json: native routing and a Top-P override on the Mixtral fixture', { skip: fixtureSkip('mixtral') }, () => {
  const ref = readReference('mixtral');
  const seq = ref.sequences[0];
  const ids = seq.input_ids.join(',');
  const native = moekit('inspect', '--model', fixtureDir('mixtral'), '--ids', ids, '--json', '--logits');
  assert.equal(native.code, 0, native.stderr);
  const j = JSON.parse(native.stdout);
  assert.deepEqual(j.ids, seq.input_ids);
  assert.equal(j.mean_k, 2);
  assert.deepEqual(j.layers.map((l: { experts: number[][] }) => l.experts), seq.moe.map((m: { topk_indices: number[][] }) => m.topk_indices));
  assert.equal(j.logits.length, seq.input_ids.length);
  assert.ok(Math.abs(j.logits[3][7] - seq.logits[3][7]) < 1e-4);

  const over = JSON.parse(moekit('inspect', '--model', fixtureDir('mixtral'), '--ids', ids, '--router', 'top_p', '--top-p', '0.7', '--json').stdout);
  let total = 0;
  for (const [m, layer] of (over.layers as { experts: number[][]; weights: number[][] }[]).entries()) {
    // Layer 0's router input is the same under any router; later layers see Top-P's outputs, so only
    // layer 0 can be recomputed from transformers' logits.
    if (m === 0) {
      for (const [t, logits] of (seq.moe[0].router_logits as number[][]).entries()) {
        const want = topP(logits, 0.7);
        assert.deepEqual(layer.experts[t], want.experts, `token ${t}`);
        layer.weights[t].forEach((w, i) => assert.ok(Math.abs(w - want.weights[i]) < 1e-5));
      }
    }
    total += layer.experts.flat().length;
  }
  assert.ok(Math.abs(over.mean_k - total / (2 * seq.input_ids.length)) < 1e-12);

  const table = moekit('inspect', '--model', fixtureDir('mixtral'), '--ids', ids);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /layer 0 +layer 1/);
  assert.match(table.stdout, /mean experts per token 2\.000/);
});

test('inspect refuses bad input with one line', { skip: fixtureSkip('mixtral') }, () => {
  const dir = fixtureDir('mixtral');
  for (const [args, pattern] of [
    [['--ids', '1,2,999'], /token 2 has id 999, outside the model's vocabulary \[0, 160\)/],
    [['--ids', '1,x'], /--ids must be comma-separated token ids/],
    [['--text', 'hi'], /has no tokenizer\.json/],
    [['--ids', '1', '--text', 'a'], /exactly one of --text and --ids/],
    [['--ids', '1', '--router', 'top_p', '--top-p', '1.5'], /top_p/],
    [['--ids', '1', '--router', 'nope'], /Unknown router "nope"|unknown router/i],
  ] as const) {
    const r = moekit('inspect', '--model', dir, ...args);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

// The BF16 llama checkpoint made by transformers (test/fixtures/hf/llama): --weights auto (default) holds
// its matrices bf16 and must print the logits of --weights f32 exactly (widening is exact), which
// transformers' reference matches within 1e-4; an unknown dtype is one line naming the flag.
test('inspect --weights: bf16-held and f32 weights print the same logits; a bad dtype is refused', () => {
  const dir = fileURLToPath(new URL('../../../test/fixtures/hf/llama', import.meta.url));
  const ref = JSON.parse(readFileSync(`${dir}/reference.json`, 'utf8'));
  const ids = (ref.sequences[0].input_ids as number[]).join(',');
  const auto = moekit('inspect', '--model', dir, '--ids', ids, '--logits', '--json');
  const f32 = moekit('inspect', '--model', dir, '--ids', ids, '--logits', '--json', '--weights', 'f32');
  assert.equal(auto.code, 0, auto.stderr);
  assert.equal(auto.stdout, f32.stdout);
  const logits = (JSON.parse(auto.stdout).logits as number[][]).flat();
  const want = (ref.sequences[0].logits as number[][]).flat();
  assert.ok(logits.every((z, i) => Math.abs(z - want[i]) <= 1e-4));
  const bad = moekit('inspect', '--model', dir, '--ids', '1,2', '--weights', 'fp8');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--weights: unknown weights dtype "fp8" \(use auto, f32, bf16 or f16\)/);
});
