// `moekit generate` as a user runs it, on a tiny trained run directory: the streamed stdout equals the
// --json text and the greedy tokens of the library loop, a seed reproduces a sampled run, --stop cuts
// before the stop string, --chat renders the chat template as written by hand, and bad input gives
// one-line errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '../../src/data/index.js';
import { loadModel } from '../../src/io/load.js';
import { GREEDY, generateTokens } from '../../src/generate/index.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function moekit(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, MOEKIT_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let runDir: string | null = null;
function tinyRun(): string {
  if (runDir) return runDir;
  const dir = join(mkdtempSync(join(tmpdir(), 'moekit-gencli-')), 'run');
  const r = moekit('train', '--preset', 'tiny', '--steps', '20', '--router', 'top_k', '--k', '2', '--out', dir, '--threads', '2');
  assert.equal(r.code, 0, r.stderr);
  runDir = dir;
  return dir;
}

const PROMPT = 'The jury said that';

test('generate: streamed text = --json text = decode(greedy tokens of the library loop); stats on stderr', () => {
  const dir = tinyRun();
  const streamed = moekit('generate', '--model', dir, '--prompt', PROMPT, '--max-tokens', '24');
  assert.equal(streamed.code, 0, streamed.stderr);
  assert.match(streamed.stderr, /^moekit generate: \d+ prompt tokens, prefill \d+ tok\/s; \d+ new tokens, decode \d+ tok\/s \(\w+, \d+ threads?, f32 weights\); finish: (length|eos)\n$/);
  const json = moekit('generate', '--model', dir, '--prompt', PROMPT, '--max-tokens', '24', '--json');
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(report), ['text', 'finish_reason', 'usage', 'timings']);
  assert.equal(streamed.stdout, report.text);
  assert.ok(report.text.length > 0);
  // the oracle: the library's greedy token loop, decoded at once
  const loaded = loadModel(dir);
  const tok = Tokenizer.load(loaded.tokenizerPath!);
  const prompt = tok.encode(PROMPT);
  assert.equal(report.usage.prompt_tokens, prompt.length);
  const gen = generateTokens(loaded.model, prompt, { maxTokens: 24, sampling: GREEDY, eosIds: [tok.tokenToId('<|endoftext|>')!] });
  const ids = [...gen.stream];
  assert.equal(report.usage.completion_tokens, ids.length);
  assert.equal(report.text, tok.decode(ids, { skipSpecial: true }));
});

test('generate: a seed reproduces a sampled run, another seed differs; --stop cuts before the stop string', () => {
  const dir = tinyRun();
  const sample = (seed: string) => {
    const r = moekit('generate', '--model', dir, '--prompt', PROMPT, '--max-tokens', '40', '--temperature', '1.2',
      '--top-k', '50', '--top-p', '0.95', '--seed', seed, '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).text as string;
  };
  const a = sample('11');
  assert.equal(sample('11'), a);
  assert.notEqual(sample('12'), a);
  // stop at a piece of the sampled text: the output is the text before its first occurrence
  const stop = a.slice(5, 8);
  const r = moekit('generate', '--model', dir, '--prompt', PROMPT, '--max-tokens', '40', '--temperature', '1.2',
    '--top-k', '50', '--top-p', '0.95', '--seed', '11', '--stop', 'NEVER-SEEN', '--stop', stop);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, a.slice(0, a.indexOf(stop)));
  assert.match(r.stderr, /finish: stop/);
});

test('generate --chat: the prompt goes through tokenizer_config.json\'s chat template as a user message', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'moekit-genchat-')), 'run');
  cpSync(tinyRun(), dir, { recursive: true });
  const template = '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}';
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: template }));
  const chat = moekit('generate', '--model', dir, '--prompt', 'Who won?', '--chat', '--max-tokens', '12', '--json');
  assert.equal(chat.code, 0, chat.stderr);
  // the same text rendered by hand, as a plain prompt (this tokenizer adds no special tokens)
  const plain = moekit('generate', '--model', dir, '--prompt', '[user] Who won?\n[assistant]', '--max-tokens', '12', '--json');
  assert.equal(plain.code, 0, plain.stderr);
  const [c, p] = [JSON.parse(chat.stdout), JSON.parse(plain.stdout)];
  assert.equal(c.usage.prompt_tokens, p.usage.prompt_tokens);
  assert.equal(c.text, p.text);
});

test('generate: generation_config.json sets the defaults (max_new_tokens, repetition_penalty), each flag overrides', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'moekit-gencfg-')), 'run');
  cpSync(tinyRun(), dir, { recursive: true });
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ max_new_tokens: 9, repetition_penalty: 1.8 }));
  const loaded = loadModel(dir);
  const tok = Tokenizer.load(loaded.tokenizerPath!);
  const prompt = tok.encode(PROMPT);
  const eos = [tok.tokenToId('<|endoftext|>')!];
  const library = (maxTokens: number, repetitionPenalty: number) =>
    tok.decode([...generateTokens(loaded.model, prompt, { maxTokens, sampling: { ...GREEDY, repetitionPenalty }, eosIds: eos }).stream], { skipSpecial: true });
  const fromFile = moekit('generate', '--model', dir, '--prompt', PROMPT, '--json');
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal(JSON.parse(fromFile.stdout).text, library(9, 1.8));
  const overridden = moekit('generate', '--model', dir, '--prompt', PROMPT, '--json', '--max-tokens', '5', '--repetition-penalty', '1');
  assert.equal(JSON.parse(overridden.stdout).text, library(5, 1));
  assert.notEqual(library(9, 1.8), library(9, 1), 'the penalty changes this continuation');
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ do_sample: 'yes' }));
  const bad = moekit('generate', '--model', dir, '--prompt', PROMPT);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /generation_config.json: "do_sample" must be true or false, got "yes"/);
});

test('generate: one-line errors for a missing prompt, --chat without a template, bad sampling flags', () => {
  const dir = tinyRun();
  const oneLine = (r: ReturnType<typeof moekit>, pattern: RegExp) => {
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  };
  oneLine(moekit('generate', '--model', dir), /--prompt TEXT is required/);
  oneLine(moekit('generate', '--model', dir, '--prompt', 'x', '--chat'), /this model directory has no chat template/);
  oneLine(moekit('generate', '--model', dir, '--prompt', 'x', '--top-p', '1.5'), /top-p must lie in \(0, 1\]/);
  oneLine(moekit('generate', '--model', dir, '--prompt', 'x', '--max-tokens', '0'), /--max-tokens must be an integer >= 1/);
  oneLine(moekit('generate', '--model', dir, '--prompt', ''), /the prompt is empty/);
});
