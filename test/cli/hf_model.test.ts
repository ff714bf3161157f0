// The commands on a HuggingFace directory as users get them: a Mixtral-shaped checkpoint (written by
// convert-to-HF from a small moekit model) with a Llama-2/Mixtral-style SentencePiece-BPE tokenizer and
// tokenizer_config.json (add_bos_token) from test/fixtures/tokenizers/hf_mixtral_style. inspect --text
// tokenizes as transformers does (BOS first), and eval --sweep runs on the Brown validation split with
// the checkpoint's EOS between documents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportHf } from '../../src/io/hf/export.js';
import { DecoderLM, parseModelConfig } from '../../src/models/index.js';
import { loadHfTokenizer } from '../../src/data/index.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const TOKENIZER = fileURLToPath(new URL('../../../test/fixtures/tokenizers/hf_mixtral_style/', import.meta.url));

function moekit(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string | null = null;
function mixtralDir(): string {
  if (dir) return dir;
  const vocab = loadHfTokenizer(TOKENIZER).tokenizer.vocabSize;
  const model = new DecoderLM(parseModelConfig({
    vocab_size: vocab, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 2,
    num_key_value_heads: 1, max_position_embeddings: 64, initializer_range: 0.3, num_experts: 4, moe_intermediate_size: 24,
    router: { type: 'top_k', k: 2 }, bos_token_id: 1, eos_token_id: 2,
  }), { seed: 9 });
  dir = join(mkdtempSync(join(tmpdir(), 'moekit-hfcli-')), 'mixtral');
  exportHf(model, dir, {});
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(TOKENIZER, f), join(dir, f));
  return dir;
}

test('inspect --text on an HF Mixtral directory: BOS added per tokenizer_config, Top-P override per token', () => {
  const d = mixtralDir();
  assert.equal(JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')).model_type, 'mixtral');
  const r = moekit('inspect', '--model', d, '--text', 'The jury said it did find', '--router', 'top_p', '--top-p', '0.6', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const hf = loadHfTokenizer(TOKENIZER);
  assert.deepEqual(j.ids, hf.tokenizer.encode('The jury said it did find'));
  assert.equal(j.ids[0], hf.bosTokenId, 'add_bos_token: the text starts with <s>');
  assert.equal(j.tokens[0], '<s>');
  assert.equal(j.layers.length, 2);
  for (const l of j.layers) for (const e of l.experts) assert.ok(e.length >= 1 && e.length <= 4);
});

test('eval --router top_p --sweep on an HF directory without run.json: the Brown validation split, EOS between documents', () => {
  const d = mixtralDir();
  const html = join(mkdtempSync(join(tmpdir(), 'moekit-hfcli-')), 'sweep.html');
  const r = moekit('eval', '--model', d, '--batches', '2', '--seq-len', '32', '--router', 'top_p', '--sweep', '0.4,0.9', '--report', html, '--json', '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.data.split, 'validation');
  assert.ok(j.data.sources.length > 5, 'Brown genres');
  assert.equal(j.sweep.native.mean_k, 2, 'the native router is Mixtral top-2');
  assert.ok(j.sweep.points[0].mean_k < j.sweep.points[1].mean_k);
  assert.ok(Number.isFinite(j.evaluation.ppl));
  assert.match(readFileSync(html, 'utf8'), /Perplexity vs mean experts per token/);
});

test('convert --to hf: a new HF directory with the tokenizer files, loadable with the same routing; refusals', () => {
  const d = mixtralDir();
  const out = join(mkdtempSync(join(tmpdir(), 'moekit-hfcli-')), 'copy');
  const r = moekit('convert', '--model', d, '--to', 'hf', '--dtype', 'f16', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /HuggingFace mixtral, \d+ tensors, F16/);
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype, 'float16');
  assert.deepEqual(readFileSync(join(out, 'tokenizer_config.json')), readFileSync(join(d, 'tokenizer_config.json')));
  const ids = '1,40,41,42,43';
  const a = JSON.parse(moekit('inspect', '--model', d, '--ids', ids, '--json').stdout);
  const b = JSON.parse(moekit('inspect', '--model', out, '--ids', ids, '--json').stdout);
  assert.deepEqual(b.layers.map((l: { experts: number[][] }) => l.experts), a.layers.map((l: { experts: number[][] }) => l.experts));
  for (const [args, pattern] of [
    [['--to', 'hf', '--out', out], /already exists/],
    [['--to', 'hf', '--dtype', 'q8_0', '--out', out + '2'], /--dtype for --to hf must be one of f32, f16, bf16/],
    [['--to', 'onnx'], /--to must be "gguf" or "hf"/],
  ] as const) {
    const e = moekit('convert', '--model', d, ...args);
    assert.notEqual(e.code, 0);
    assert.match(e.stderr, pattern);
  }
});
