// `moekit compare` and `moekit demo` as a user runs them: bad input fails in one line before any
// training; two tiny configs × 2 seeds train, summarise (mean ± std) and render a report; a rerun skips
// finished runs; the demo's four-model plumbing runs at a test scale (MOEKIT_DEMO_SCALE=test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Summary } from '../../src/eval/summary.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function moekit(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, MOEKIT_DEBUG: '', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function oneLineError(r: ReturnType<typeof moekit>, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('moekit: native kernels unavailable'));
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
}

const TINY_MODEL = {
  vocab_size: 512, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 2, max_position_embeddings: 64,
};
const TINY_TRAIN = { batch_size: 4, seq_len: 32, lr: 3e-3, warmup_steps: 1, eval_interval: 2, eval_batches: 1, log_interval: 2, checkpoint_interval: 2, steps: 100 };

function configs(dir: string): { dense: string; topP: string } {
  const dense = join(dir, 'dense.json');
  const topP = join(dir, 'top_p.json');
  writeFileSync(dense, JSON.stringify({ model: TINY_MODEL, train: TINY_TRAIN }));
  writeFileSync(topP, JSON.stringify({ model: { ...TINY_MODEL, num_experts: 4, router: { type: 'top_p', top_p: 0.4 } }, train: TINY_TRAIN }));
  return { dense, topP };
}

test('compare: bad input fails in one line before any training', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moekit-compare-'));
  const { dense } = configs(dir);
  const out = join(dir, 'out');
  const empty = join(dir, 'empty.json');
  writeFileSync(empty, '');
  const invalid = join(dir, 'invalid.json');
  writeFileSync(invalid, JSON.stringify({ model: { ...TINY_MODEL, hiden_size: 3 } }));
  oneLineError(moekit(['compare', dense, join(dir, 'missing.json'), '--out', out]), /cannot read .*missing\.json: ENOENT/);
  oneLineError(moekit(['compare', dense, empty, '--out', out]), /empty\.json: the file is empty/);
  oneLineError(moekit(['compare', dense, invalid, '--out', out]), /invalid\.json.*unknown key "hiden_size"/);
  oneLineError(moekit(['compare', dense, '--seeds', '0', '--out', out]), /--seeds must be an integer >= 1, got "0"/);
  oneLineError(moekit(['compare', dense, '--tokens', '100', '--out', out]), /--tokens 100 is less than one training step .*dense\.json \(128 tokens/);
  oneLineError(moekit(['compare', '--out', out]), /at least one run config/);
  assert.ok(!existsSync(join(out, 'runs')), 'nothing trained');
});

test('compare: two tiny configs × 2 seeds → mean ± std, summary.json, report.html; a rerun skips finished runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moekit-compare-'));
  const { dense, topP } = configs(dir);
  const out = join(dir, 'out');
  const r = moekit(['compare', dense, topP, '--seeds', '2', '--tokens', '512', '--out', out, '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /dense .*±/);
  assert.match(r.stdout, /report: .*report\.html/);
  assert.deepEqual(readdirSync(join(out, 'runs')).sort(), ['dense-seed1234', 'dense-seed1235', 'top_p-seed1234', 'top_p-seed1235']);
  const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
  assert.deepEqual(s.seeds, [1234, 1235]);
  assert.equal(s.token_budget, 512);
  assert.equal(s.models.length, 2);
  for (const m of s.models) {
    assert.equal(m.runs.length, 2);
    assert.ok(m.val_loss.std !== null && Number.isFinite(m.val_loss.mean));
    assert.ok(m.curve.length >= 2);
  }
  assert.equal(s.models[0].mean_k, null);
  assert.ok(s.models[1].mean_k !== null && s.models[1].layers.length === 2);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /<figure id="val-loss">/);
  assert.match(html, /<figure id="load-top_p">/);
  // Every run's final validation loss on the page is the one in its metrics.jsonl.
  const last = readFileSync(join(out, 'runs', 'top_p-seed1235', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>).at(-1)!;
  assert.ok(html.includes(last.val_loss.toFixed(4)));

  const again = moekit(['compare', dense, topP, '--seeds', '2', '--tokens', '512', '--out', out, '--threads', '1']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stderr.match(/already finished/g) ?? []).length, 4, again.stderr);
});

test('demo plumbing at test scale: four models, table, summary.json and report.html', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'moekit-demo-')), 'demo');
  const r = moekit(['demo', '--out', out, '--threads', '1'], { MOEKIT_DEMO_SCALE: 'test' });
  assert.equal(r.code, 0, r.stderr);
  for (const m of ['dense', 'top1', 'top2', 'top_p']) assert.match(r.stdout, new RegExp(`^${m}\\s`, 'm'));
  assert.match(r.stdout, /experts\/token/);
  assert.match(r.stdout, /report: .*report\.html/);
  const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
  assert.deepEqual(s.models.map((m) => m.router), [null, 'switch', 'top_k', 'top_p']);
  assert.equal(s.models[1].mean_k!.mean, 1);
  assert.equal(s.models[2].mean_k!.mean, 2);
  assert.equal(new Set(s.models.map((m) => m.runs[0].tokens)).size, 1, 'same token budget');
  // Every model scored on the bundled cloze tasks; Top-1 routes each choice token to exactly one expert.
  assert.deepEqual(s.models[0].tasks!.map((t) => t.task), ['brown-cloze-easy', 'brown-cloze-hard', 'brown-cloze-medium']);
  assert.equal(s.models[1].tasks![0].mean_k!.mean, 1);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /<table class="tasks">/);
});

test('compare: Ctrl-C mid-plan keeps the finished run, and a rerun resumes the stopped one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moekit-compare-'));
  const { dense, topP } = configs(dir);
  const out = join(dir, 'out');
  const args = [MAIN, 'compare', dense, topP, '--tokens', '40960', '--out', out, '--threads', '1'];
  const child = spawn(process.execPath, args, { env: { ...process.env, MOEKIT_DEBUG: '' } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  await new Promise<void>((done) => {
    // Interrupt once, as soon as the second run has its first checkpoint (checkpoint_interval 2 of 320
    // steps): polled, since the progress output is too sparse to time it.
    const poll = setInterval(() => {
      if (existsSync(join(out, 'runs', 'top_p', 'checkpoints', 'latest'))) {
        clearInterval(poll);
        child.kill('SIGINT');
      }
    }, 10);
    child.on('exit', () => {
      clearInterval(poll);
      done();
    });
  });
  assert.match(stderr, /stopping after this step/);
  assert.notEqual(child.exitCode, 0, 'interrupted');
  assert.ok(!existsSync(join(out, 'summary.json')));
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, MOEKIT_DEBUG: '' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /dense \(1\/2\) already finished/);
  assert.match(r.stderr, /top_p \(2\/2\).*resuming at step \d+/);
  assert.ok(existsSync(join(out, 'report.html')));
});
