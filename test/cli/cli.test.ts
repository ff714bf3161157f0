// The moekit command as a user runs it: help, one-line errors with non-zero exit and no stack trace,
// and a tiny end-to-end training run on the bundled Brown corpus whose validation loss falls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function moekit(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, MOEKIT_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'moekit-cli-'));
}

/** A failing command prints one error line (no stack trace) and exits non-zero. */
function assertOneLineError(r: ReturnType<typeof moekit>, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('moekit: native kernels unavailable'));
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('--help lists the commands; each command has --help', () => {
  const r = moekit('--help');
  assert.equal(r.code, 0);
  for (const c of ['demo', 'train', 'doctor']) assert.match(r.stdout, new RegExp(`\\n  ${c}\\s`));
  const t = moekit('train', '--help');
  assert.equal(t.code, 0);
  assert.match(t.stdout, /--preset NAME/);
});

test('doctor reports version, backend, ISA and threads', () => {
  const r = moekit('doctor', '--json');
  assert.equal(r.code, 0);
  const info = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.match(String(info.version), /^\d+\.\d+\.\d+$/);
  assert.ok(['native', 'reference'].includes(String(info.backend)));
  assert.ok(['avx512', 'avx2', 'scalar', 'js'].includes(String(info.isa)));
  assert.ok(Number(info.threads) >= 1);
  const two = JSON.parse(moekit('doctor', '--json', '--threads', '1').stdout) as Record<string, unknown>;
  if (two.backend === 'native') assert.equal(two.threads, 1);
});

test('bad input gives one-line errors', () => {
  assertOneLineError(moekit('train', '--preset', 'tiny', '--steps', 'abc'), /--steps must be an integer >= 1, got "abc"/);
  assertOneLineError(moekit('train', '--preset', 'tinny'), /unknown preset "tinny" \(did you mean "tiny"\?\)/);
  assertOneLineError(moekit('train', '--preset', 'tiny', '--stpes', '3'), /unknown option --stpes \(did you mean --steps\?\)/);
  assertOneLineError(moekit('train'), /exactly one of --config FILE or --preset NAME/);
  assertOneLineError(moekit('train', '--config', '/nonexistent/run.json'), /cannot read --config \/nonexistent\/run.json: ENOENT/);
  const dir = tmp();
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ model: { vocab_size: 64, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, rope_thetta: 1 } }));
  assertOneLineError(moekit('train', '--config', bad), /unknown key "rope_thetta" \(did you mean "rope_theta"\?\)/);
  const file = join(dir, 'file');
  writeFileSync(file, '');
  assertOneLineError(moekit('train', '--preset', 'tiny', '--out', join(file, 'sub')), /cannot write to output directory/);
  assertOneLineError(moekit('train', '--preset', 'tiny', '--data', join(dir, 'missing.jsonl'), '--out', join(dir, 'o')), /missing\.jsonl/);
  assertOneLineError(moekit('frobnicate'), /unknown command "frobnicate"/);
});

test('tiny end-to-end run on the Brown corpus: validation loss falls, run directory is complete, resume continues', () => {
  const out = join(tmp(), 'run');
  const r = moekit('train', '--preset', 'tiny', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /done: 120 steps/);
  const recs = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  const evals = recs.filter((x) => x.val_loss !== undefined);
  assert.ok(evals.length >= 3);
  assert.ok(evals.at(-1)!.val_loss < evals[0].val_loss - 0.2, `val loss ${evals.map((e) => e.val_loss.toFixed(3)).join(' → ')}`);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'metrics.jsonl', 'checkpoints/latest']) {
    assert.ok(existsSync(join(out, f)), `${f} written`);
  }
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.model_type, 'llama');
  assert.deepEqual(config.architectures, ['LlamaForCausalLM']);
  // Nothing left to do: resume reports the finished run instead of training again.
  const again = moekit('train', '--preset', 'tiny', '--out', out, '--resume');
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /done: 120 steps/);
});

test('Ctrl-C during train stops after the current step, checkpoints it, and --resume finishes the run', async () => {
  const out = join(tmp(), 'run');
  const args = [MAIN, 'train', '--preset', 'small', '--steps', '60', '--out', out, '--threads', '1'];
  const child = spawn(process.execPath, args, { env: { ...process.env, MOEKIT_DEBUG: '' } });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  let sent = false;
  await new Promise<void>((done) => {
    child.stderr.on('data', (d: Buffer) => {
      // Training has started (the parameter line); give it a few steps, then interrupt once.
      if (!sent && /parameters/.test(d.toString())) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), 1500);
      }
    });
    child.on('exit', () => done());
  });
  assert.equal(child.exitCode, 0, 'a clean stop');
  const stopped = /stopped at step (\d+); checkpoint saved/.exec(stdout);
  assert.ok(stopped, stdout);
  const step = Number(stopped[1]);
  assert.ok(step > 0 && step < 60, `stopped at ${step}`);
  assert.equal(readFileSync(join(out, 'checkpoints', 'latest'), 'utf8').trim(), `step-${String(step).padStart(8, '0')}`);
  const resumed = moekit('train', '--preset', 'small', '--steps', '60', '--out', out, '--threads', '1', '--resume');
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`resuming at step ${step}`));
  assert.match(resumed.stdout, /done: 60 steps/);
});
