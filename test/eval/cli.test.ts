// `moekit eval` as a user runs it: a tiny Brown run evaluated on its own validation split (JSON shape,
// --out, --router override, bundled tasks), and one-line errors for a missing model directory, a corrupt
// config.json and a bad task line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function moekit(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, MOEKIT_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertOneLineError(r: ReturnType<typeof moekit>, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('moekit: native kernels unavailable'));
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'moekit-evalcli-'));

let runDir: string | null = null;
function tinyRun(): string {
  if (runDir) return runDir;
  const dir = join(tmp(), 'run');
  const r = moekit('train', '--preset', 'tiny', '--steps', '4', '--router', 'top_k', '--k', '1', '--out', dir, '--threads', '2');
  assert.equal(r.code, 0, r.stderr);
  runDir = dir;
  return dir;
}

test('eval --json on the run\'s validation split: stable shape, matching the trainer\'s last val_loss', () => {
  const dir = tinyRun();
  const out = join(tmp(), 'eval.json');
  const r = moekit('eval', '--model', dir, '--batches', '4', '--json', '--out', out, '--threads', '2');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), j);
  assert.deepEqual(Object.keys(j), ['model', 'router_override', 'data', 'evaluation', 'tasks', 'sweep']);
  assert.equal(j.data.split, 'validation');
  assert.deepEqual(Object.keys(j.evaluation), ['loss', 'ppl', 'tokens', 'moe_layers', 'routing', 'per_source', 'by_difficulty']);
  // The tiny preset evaluates eval_batches = 4 spread over the split: the same batches as here.
  const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const last = metrics.filter((m) => m.val_loss !== undefined).at(-1);
  assert.ok(Math.abs(j.evaluation.loss - last.val_loss) < 1e-5, `${j.evaluation.loss} vs ${last.val_loss}`);
  assert.equal(j.evaluation.routing.mean_k, 1);
  assert.ok(j.evaluation.per_source.length >= 2, 'Brown genres');
  assert.equal(j.evaluation.by_difficulty.length, 10);
  const text = moekit('eval', '--model', dir, '--batches', '2', '--threads', '2');
  assert.equal(text.code, 0, text.stderr);
  for (const s of ['per MoE layer:', 'per source:', 'by token difficulty']) assert.ok(text.stdout.includes(s), s);
});

test('eval --router top_p --sweep: perplexity against experts per token, beside the native router, in JSON and a report', () => {
  const dir = tinyRun();
  const html = join(tmp(), 'sweep.html');
  const r = moekit('eval', '--model', dir, '--batches', '2', '--router', 'top_p', '--sweep', '0.3,0.6,0.95', '--report', html, '--json', '--threads', '2');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.sweep.key, 'top_p');
  assert.deepEqual(j.sweep.points.map((p: { value: number }) => p.value), [0.3, 0.6, 0.95]);
  const ks = j.sweep.points.map((p: { mean_k: number }) => p.mean_k);
  assert.ok(ks[0] <= ks[1] && ks[1] <= ks[2] && ks[2] > ks[0], `a larger p activates more experts: ${ks}`);
  // The native point is the trained top-1 router, evaluated on the same batches as the plain evaluation.
  assert.equal(j.sweep.native.mean_k, 1);
  assert.ok(Math.abs(j.sweep.native.loss - j.evaluation.loss) < 1e-9);
  assert.equal(j.router_override, null, 'the sweep restores the trained router');
  const page = readFileSync(html, 'utf8');
  assert.match(page, /<svg class="chart"/);
  assert.match(page, /native router/);
  assertOneLineError(moekit('eval', '--model', dir, '--sweep', '0.5'), /--sweep needs --router/);
  assertOneLineError(moekit('eval', '--model', dir, '--router', 'switch', '--sweep', '0.5', '--batches', '1'), /a sweep varies top_p/);
});

test('eval --router top_p on a top_k model raises the experts per token; --tasks brown-cloze runs', () => {
  const dir = tinyRun();
  const r = moekit('eval', '--model', dir, '--batches', '2', '--router', 'top_p', '--top-p', '0.9', '--json', '--threads', '2');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.router_override.type, 'top_p');
  assert.ok(j.evaluation.routing.mean_k > 1);
  const t = moekit('eval', '--model', dir, '--tasks', 'brown-cloze', '--no-ppl', '--json', '--threads', '2');
  assert.equal(t.code, 0, t.stderr);
  const tj = JSON.parse(t.stdout);
  assert.equal(tj.evaluation, null);
  assert.deepEqual(tj.tasks.tasks.map((x: { task: string }) => x.task), ['brown-cloze-easy', 'brown-cloze-hard', 'brown-cloze-medium']);
  for (const x of tj.tasks.tasks) assert.equal(x.mean_k, 1);
});

test('one-line errors: missing model dir, corrupt config.json, bad task line, option without --router', () => {
  assertOneLineError(moekit('eval', '--model', join(tmp(), 'nope')), /moekit eval: error: model directory .*nope does not exist/);
  assertOneLineError(moekit('eval'), /--model DIR is required/);
  const dir = tinyRun();
  const broken = join(tmp(), 'broken');
  cpSync(dir, broken, { recursive: true });
  writeFileSync(join(broken, 'config.json'), '{"vocab_size": 512, "hidden');
  assertOneLineError(moekit('eval', '--model', broken), /broken\/config\.json is not valid JSON/);
  writeFileSync(join(broken, 'config.json'), '{"vocab_size": 512}');
  assertOneLineError(moekit('eval', '--model', broken), /config\.json: missing required key "hidden_size"/);
  const tasks = join(tmp(), 'tasks.jsonl');
  writeFileSync(tasks, '{"task": "x", "context": "a", "choices": [" b", " c"], "label": 0}\n{"task": "x", "context": "a", "choices": [" b", " c"], "label": 5}\n');
  assertOneLineError(moekit('eval', '--model', dir, '--tasks', tasks), /tasks\.jsonl:2: "label" must be an integer/);
  assertOneLineError(moekit('eval', '--model', dir, '--tasks', join(tmp(), 'none.jsonl')), /cannot read task file/);
  assertOneLineError(moekit('eval', '--model', dir, '--k', '2'), /--k needs --router TYPE/);
  assert.ok(!existsSync(join(dir, 'eval.json')));
});
