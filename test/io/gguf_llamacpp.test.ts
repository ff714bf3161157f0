// GGUF export against a real peer: llama.cpp (through node-llama-cpp's prebuilt CPU binaries) loads the
// exported file, tokenizes with the embedded tokenizer, and decodes greedily. Its tokens must equal
// moekit's (a no-cache argmax loop over DecoderLM.forward) and its logits must match moekit's closely.
// Models: dense llama (also with head_dim ≠ hidden/heads); Mixtral-shaped top-2 MoE (also under noisy
// top-k and GShard routers, whose inference routing is the same); an MoE with a dense middle layer
// (copied into every expert, §5.9, zero-padded to the expert width) and tied embeddings; raw-weight
// top-2 and Switch as qwen2moe, also with a gated shared expert and q/k/v biases (Qwen2-MoE); renormalised
// top-2 with per-head q/k norm as qwen3moe (also with a dense middle layer) and raw top-2 with full-width
// q/k norm as olmoe; DeepSeekMoE (raw top-k, ungated shared experts, a leading dense layer) as deepseek;
// DeepSeek-V2/V3 shapes (MLA with and without q LoRA, interleaved and rotate-half rope, softmax × scale and
// sigmoid + selection bias + expert groups + renormalisation, YaRN) as deepseek2; the committed HF OLMoE,
// DeepSeekMoE and DeepSeek-V3 fixtures; attention biases; dtypes f32, f16, bf16, q8_0. Flash attention is off and the KV cache
// f32, so that f32 files agree with moekit to ~1e-5.
// node-llama-cpp failing to load is a test failure, never a skip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLlama, LlamaLogLevel, type Llama, type Token } from 'node-llama-cpp';
import type { DecoderLM } from '../../src/models/index.js';
import { decodeTensor, encodeF32, exportGguf, quantizeQ8_0, type GgufDtype } from '../../src/io/gguf/index.js';
import { noGrad } from '../../src/tensor/index.js';
import { loadModel } from '../../src/io/load.js';
import { asciiTokenizer, makeModel, tokenizer, withAsciiTokenizer, writeRunDir } from './gguf_models.js';

const PROMPT = 'The lazy experts don\'t route 42 tokens,  café!';
const GENERATE = 12;

let llama: Llama | null = null;
async function llamaCpp(): Promise<Llama> {
  llama ??= await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  return llama;
}

/** x stored as `type` and read back. */
function roundTrip(x: Float32Array, type: 'F16' | 'BF16' | 'Q8_0'): Float32Array {
  const info = { name: 'w', type, typeId: 0, ne: [x.length], offset: 0, nbytes: 0 };
  return decodeTensor('test', info, type === 'Q8_0' ? quantizeQ8_0(x) : encodeF32(x, type));
}

/**
 * Give moekit the very values a `dtype` GGUF holds: under q8_0, matrices whose rows are whole Q8_0
 * blocks are quantised and the rest round through f16 (the exporter's fallback); under f16/bf16 every
 * tensor rounds through that type (still exact where the exporter keeps a tensor F32: an f16 or bf16
 * value is an f32 value).
 */
function roundWeights(model: DecoderLM, dtype: GgufDtype): void {
  if (dtype === 'f32') return;
  for (const [name, p] of model.params) {
    const q8 = dtype === 'q8_0' && p.shape.length === 2 && p.shape[1] % 32 === 0 && !name.endsWith('mlp.gate.weight');
    p.data.set(roundTrip(p.data, q8 ? 'Q8_0' : dtype === 'bf16' ? 'BF16' : 'F16'));
  }
}

/** moekit's greedy continuation (no KV cache: the whole sequence each step) and the logits at each step. */
function moekitGreedy(model: DecoderLM, prompt: number[], n: number): { tokens: number[]; logits: Float32Array[] } {
  const V = model.config.vocab_size;
  const ids = [...prompt];
  const logits: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const out = noGrad(() => model.forward(Int32Array.from(ids), 1, ids.length));
    const last = out.data.slice((ids.length - 1) * V, ids.length * V);
    logits.push(last);
    ids.push(argmax(last));
  }
  return { tokens: ids.slice(prompt.length), logits };
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** Gap between the two largest values (how far the greedy choice is from a tie). */
function topGap(v: Float32Array): number {
  const sorted = Array.from(v).sort((a, b) => b - a);
  return sorted[0] - sorted[1];
}

/**
 * llama.cpp's greedy choice (temperature 0) and raw logits at each of n steps after `prompt`. Each step
 * feeds llama.cpp's own choice (free-running greedy decoding), or `forced[i]` when given.
 */
async function llamaGreedy(path: string, text: string, promptIds: number[], n: number, vocab: number, forced?: number[]) {
  const prompt = promptIds as Token[];
  const lib = await llamaCpp();
  const model = await lib.loadModel({ modelPath: path });
  const context = await model.createContext({
    contextSize: 64, threads: 1, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
  });
  try {
    const seq = context.getSequence();
    const generateNext = { token: true, logits: true, options: { temperature: 0 } } as const;
    const tokens: number[] = [];
    const logits: Float32Array[] = [];
    let input: Parameters<typeof seq.controlledEvaluate>[0] = [...prompt.slice(0, -1), [prompt[prompt.length - 1], { generateNext }]];
    for (let i = 0; i < n; i++) {
      const out = await seq.controlledEvaluate(input);
      const next = out[input.length - 1]?.next;
      assert.ok(next?.token != null && next.logits, 'llama.cpp returned no next token');
      const row = new Float32Array(vocab).fill(NaN);
      for (const [t, z] of next.logits) row[t] = z;
      tokens.push(next.token);
      logits.push(row);
      input = [[(forced?.[i] ?? next.token) as Token, { generateNext }]];
    }
    return { tokens, logits, promptTokens: model.tokenize(text, false) as number[] };
  } finally {
    await context.dispose();
    await model.dispose();
  }
}

/**
 * A model of `extra` for the first seed whose greedy path (rounded as the GGUF stores it) visits at
 * least 5 distinct tokens, with every step's top-2 logit gap above `margin` (then llama.cpp's rounding
 * cannot flip a choice, and equal token sequences mean equal models) or, with `clearSteps`, at least
 * that many steps above it.
 */
function pickModel(extra: Record<string, unknown>, dtype: GgufDtype, margin: number, prompt: number[], clearSteps = GENERATE) {
  for (let seed = 1; seed <= 50; seed++) {
    const model = makeModel(extra, seed);
    roundWeights(model, dtype);
    const greedy = moekitGreedy(model, prompt, GENERATE);
    if (new Set(greedy.tokens).size >= 5 && greedy.logits.filter((row) => topGap(row) > margin).length >= clearSteps) return { model, greedy };
  }
  return assert.fail(`no seed in 1..50 gives a non-degenerate greedy path with margin ${margin}`);
}

const MOE = { num_experts: 4, moe_intermediate_size: 64, router: { type: 'top_k', k: 2, renormalize: true } };
const QWEN3 = { ...MOE, qk_norm: 'per_head', head_dim: 24 };
const OLMOE = { ...MOE, router: { type: 'top_k', k: 2, renormalize: false }, qk_norm: 'full', num_key_value_heads: 4 };
/** DeepSeekMoE-16B's shape: 6 fine-grained routed experts, raw top-2, 2 shared experts fused, a leading dense layer. */
const DEEPSEEK = { num_experts: 6, moe_intermediate_size: 32, shared_expert_intermediate_size: 64, first_k_dense_replace: 1, router: { type: 'top_k', k: 2, renormalize: false } };
/** MLA with a plain q_proj and interleaved rope pairs (DeepSeek-V2-Lite), dk = 16 ≠ dv = 12. */
const MLA_V2 = { q_lora_rank: null, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 8, v_head_dim: 12, rope_interleave: true };
/** DeepSeek-V2-Lite's routing: softmax → greedy top-2 (no groups), raw weights × routed_scaling_factor, one shared expert. */
const DEEPSEEK_V2 = {
  mla: MLA_V2, rms_norm_eps: 1e-6, num_experts: 8, moe_intermediate_size: 32, shared_expert_intermediate_size: 32, first_k_dense_replace: 1,
  router: { type: 'group_limited', k: 2, scoring: 'softmax', routed_scaling_factor: 1.5 },
};
/** Llama-3.1's scaling at head_dim 16 (wavelengths 6.3, 20, 63, 199, …) over an original 64: kept, smoothed and interpolated frequencies. */
const LLAMA3 = { rope_type: 'llama3', factor: 4, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
/** DeepSeek-V3's YaRN (mscale = mscale_all_dim), over an original context shorter than the test's positions (~45). */
const YARN = { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1 };
/** DeepSeek-V3's: q LoRA, rotate-half rope slices, sigmoid + correction bias, 4 groups of 2 (top2_sum, keep 2), renormalised × 2.5. */
const DEEPSEEK_V3 = {
  mla: { q_lora_rank: 24, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 8, v_head_dim: 8, rope_interleave: false },
  rms_norm_eps: 1e-6, num_experts: 8, moe_intermediate_size: 32, shared_expert_intermediate_size: 32, first_k_dense_replace: 1,
  router: { type: 'group_limited', k: 3, scoring: 'sigmoid', correction_bias: true, n_group: 4, topk_group: 2, group_score: 'top2_sum', renormalize: true, routed_scaling_factor: 2.5 },
};
/**
 * `tol`: max |logit difference| allowed. Exact types (f32; f16 on f16-rounded weights) decode freely and
 * must agree on every token (margin against ties: 4 × tol). Under bf16/q8_0 llama.cpp also rounds the
 * activations (its matmuls take bf16 / Q8_0 inputs), so there it follows moekit's tokens and must make
 * moekit's choice wherever moekit's top-2 gap exceeds 2 × tol. (An MoE under q8_0 is left out: there the
 * rounded activations flip a near-tied router choice now and then, which moves the logits by several units.)
 */
const CASES: { label: string; extra: Record<string, unknown>; dtype: GgufDtype; tol: number; arch?: string }[] = [
  { label: 'dense llama, f32', extra: {}, dtype: 'f32', tol: 1e-3 },
  { label: 'dense llama with head_dim 24 ≠ hidden/heads, f32', extra: { head_dim: 24 }, dtype: 'f32', tol: 1e-3 },
  { label: 'raw-weight top-2 MoE (Qwen/OLMoE style) as qwen2moe, f32', extra: { ...MOE, router: { type: 'top_k', k: 2, renormalize: false } }, dtype: 'f32', tol: 1e-3, arch: 'qwen2moe' },
  { label: 'Qwen2-MoE-shaped (raw top-2, gated shared expert, q/k/v biases) as qwen2moe, f32', extra: { ...MOE, router: { type: 'top_k', k: 2, renormalize: false }, shared_expert_intermediate_size: 40, shared_expert_gate: true, qkv_bias: true }, dtype: 'f32', tol: 1e-3, arch: 'qwen2moe' },
  { label: 'dense llama with attention biases (q/k biases permuted), f32', extra: { attention_bias: true }, dtype: 'f32', tol: 1e-3 },
  { label: 'Switch top-1 MoE as qwen2moe, f16', extra: { ...MOE, router: { type: 'switch' }, tie_word_embeddings: true }, dtype: 'f16', tol: 0.2, arch: 'qwen2moe' },
  { label: 'Mixtral-shaped top-2 MoE, f32', extra: MOE, dtype: 'f32', tol: 1e-3 },
  { label: 'dense llama with llama3 RoPE scaling (rope_freqs.weight), f32', extra: { rope_scaling: LLAMA3 }, dtype: 'f32', tol: 1e-3 },
  { label: 'Mixtral-shaped top-2 MoE with linear RoPE scaling, f32', extra: { ...MOE, rope_scaling: { rope_type: 'linear', factor: 3 } }, dtype: 'f32', tol: 1e-3 },
  { label: 'OLMoE-shaped with linear RoPE scaling as olmoe, f32', extra: { ...OLMOE, rope_scaling: { rope_type: 'linear', factor: 2.5 } }, dtype: 'f32', tol: 1e-3, arch: 'olmoe' },
  { label: 'noisy top-2 MoE (noise weight dropped), f32', extra: { ...MOE, router: { type: 'noisy_top_k', k: 2 } }, dtype: 'f32', tol: 1e-3 },
  { label: 'GShard top-2 MoE, f32', extra: { ...MOE, router: { type: 'gshard' } }, dtype: 'f32', tol: 1e-3 },
  { label: 'top-2 MoE with a narrower dense middle layer, tied embeddings, f16', extra: { ...MOE, expert_frequency: 2, tie_word_embeddings: true }, dtype: 'f16', tol: 0.2 },
  { label: 'Qwen3-MoE-shaped (renormalised top-2, per-head q/k norm, head_dim 24 ≠ hidden/heads) as qwen3moe, f32', extra: QWEN3, dtype: 'f32', tol: 1e-3, arch: 'qwen3moe' },
  { label: 'Qwen3-MoE-shaped with tied embeddings as qwen3moe, f16', extra: { ...QWEN3, tie_word_embeddings: true }, dtype: 'f16', tol: 0.2, arch: 'qwen3moe' },
  { label: 'Qwen3-MoE-shaped with a narrower dense middle layer (copied into every expert) as qwen3moe, f32', extra: { ...QWEN3, expert_frequency: 2 }, dtype: 'f32', tol: 1e-3, arch: 'qwen3moe' },
  { label: 'OLMoE-shaped (raw top-2, full-width q/k norm, nkv = nh) with tied embeddings (output.weight duplicated) as olmoe, f32', extra: { ...OLMOE, tie_word_embeddings: true }, dtype: 'f32', tol: 1e-3, arch: 'olmoe' },
  { label: 'OLMoE-shaped as olmoe, f16', extra: OLMOE, dtype: 'f16', tol: 0.05, arch: 'olmoe' },
  { label: 'DeepSeekMoE-shaped (raw top-2, 2 shared experts, a leading dense layer) as deepseek, f32', extra: DEEPSEEK, dtype: 'f32', tol: 1e-3, arch: 'deepseek' },
  { label: 'moekit deepseek router (1 shared expert among 6, raw top-2) with tied embeddings as deepseek, f16', extra: { num_experts: 6, moe_intermediate_size: 32, router: { type: 'deepseek', shared_experts: 1, k: 2 }, tie_word_embeddings: true }, dtype: 'f16', tol: 0.2, arch: 'deepseek' },
  { label: 'DeepSeek-V2-shaped (MLA without q LoRA, softmax greedy top-2 × 1.5, shared expert, leading dense layer) as deepseek2, f32', extra: DEEPSEEK_V2, dtype: 'f32', tol: 1e-3, arch: 'deepseek2' },
  { label: 'DeepSeek-V3-shaped (MLA with q LoRA, rotate-half rope, sigmoid + bias, 4 groups keep 2, renormalised × 2.5) as deepseek2, f32', extra: DEEPSEEK_V3, dtype: 'f32', tol: 1e-3, arch: 'deepseek2' },
  { label: 'DeepSeek-V3-shaped as deepseek2, f16', extra: DEEPSEEK_V3, dtype: 'f16', tol: 0.1, arch: 'deepseek2' },
  { label: 'DeepSeek-V3-shaped with YaRN (factor 4 over 16 positions, mscale = mscale_all_dim = 1) as deepseek2, f32', extra: { ...DEEPSEEK_V3, rope_scaling: YARN }, dtype: 'f32', tol: 1e-3, arch: 'deepseek2' },
  { label: 'Mixtral-shaped top-2 MoE, bf16', extra: MOE, dtype: 'bf16', tol: 0.75 },
  { label: 'dense llama, q8_0', extra: {}, dtype: 'q8_0', tol: 0.75 },
];

for (const c of CASES) {
  test(`llama.cpp decodes an exported ${c.label} as moekit does`, async () => {
    const prompt = tokenizer.encode(PROMPT);
    const exact = c.dtype === 'f32' || c.dtype === 'f16';
    const { model, greedy: ours } = exact ? pickModel(c.extra, c.dtype, 4 * c.tol, prompt) : pickModel(c.extra, c.dtype, 2 * c.tol, prompt, 3);
    const dir = writeRunDir(model);
    try {
      const out = join(dir, 'model.gguf');
      const result = exportGguf(dir, out, { dtype: c.dtype });
      assert.deepEqual([result.arch, result.exact, result.warnings], [c.arch ?? 'llama', true, []]);

      const theirs = await llamaGreedy(out, PROMPT, prompt, GENERATE, model.config.vocab_size, exact ? undefined : ours.tokens);
      assert.deepEqual(theirs.promptTokens, prompt, 'llama.cpp tokenizes the prompt as moekit does');
      const clear = ours.logits.map((row, i) => (exact || topGap(row) > 2 * c.tol ? i : -1)).filter((i) => i >= 0);
      assert.deepEqual(clear.map((i) => theirs.tokens[i]), clear.map((i) => ours.tokens[i]), `greedy tokens at steps ${clear}`);
      const worst = worstLogitDifference(ours.logits, theirs.logits);
      assert.ok(worst < c.tol, `max |logit difference| ${worst} ≥ ${c.tol}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** Max |a − b| over every step's logits. */
function worstLogitDifference(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((row, i) => row.forEach((z, t) => {
    worst = Math.max(worst, Math.abs(z - b[i][t]));
  }));
  return worst;
}

// The committed HF checkpoints (made by transformers, scripts/ref): llama.cpp must compute what moekit's
// HF loader does. Their vocab (96) takes a tokenizer of printable ASCII bytes; llama.cpp follows moekit's
// tokens (the checkpoints' small random weights leave near ties) and must make moekit's choice wherever
// moekit's top-2 gap exceeds 4 × the logit tolerance. The DeepSeek ones as committed are refused
// (gguf_export.test.ts); one config value each makes them exportable: DeepSeekMoE without norm_topk_prob
// (as DeepSeekMoE-16B), DeepSeek-V3 with mscale_all_dim = mscale (as DeepSeek-V3 itself; the fixture's
// YaRN, factor 4 over 8 positions, acts on every position past 8).
const HF_FIXTURES: { name: string; arch: string; text: string; patch?: Record<string, unknown>; changed?: string }[] = [
  { name: 'olmoe', arch: 'olmoe', text: 'The lazy experts don\'t route 42 tokens!' },
  { name: 'deepseek', arch: 'deepseek', text: 'The lazy experts don\'t route 42 tokens!', patch: { norm_topk_prob: false }, changed: 'norm_topk_prob false' },
  { name: 'deepseek_v3_yarn', arch: 'deepseek2', text: 'Lazy experts!', // max_position_embeddings 32
    patch: { rope_parameters: { beta_fast: 32, beta_slow: 1, factor: 4, mscale: 1, mscale_all_dim: 1, original_max_position_embeddings: 8, rope_theta: 10000, rope_type: 'yarn' } }, changed: 'mscale_all_dim 1' },
];

for (const f of HF_FIXTURES) {
  test(`llama.cpp decodes the committed HF ${f.name} fixture${f.changed ? ` (with ${f.changed})` : ''}, exported as ${f.arch}, as moekit does`, async () => {
    const dir = withAsciiTokenizer(fileURLToPath(new URL(`../../../test/fixtures/hf/${f.name}`, import.meta.url)), f.patch);
    try {
      const out = join(dir, 'model.gguf');
      const result = exportGguf(dir, out, { dtype: 'f32' });
      assert.deepEqual([result.arch, result.exact, result.warnings], [f.arch, true, []]);
      const prompt = asciiTokenizer.encode(f.text);
      const ours = moekitGreedy(loadModel(dir).model, prompt, GENERATE);
      const theirs = await llamaGreedy(out, f.text, prompt, GENERATE, 96, ours.tokens);
      assert.deepEqual(theirs.promptTokens, prompt, 'llama.cpp tokenizes the prompt as moekit does');
      const tol = 1e-3;
      const clear = ours.logits.map((row, i) => (topGap(row) > 4 * tol ? i : -1)).filter((i) => i >= 0);
      assert.ok(clear.length >= GENERATE / 2, `only steps ${clear} are clear of ties`);
      assert.deepEqual(clear.map((i) => theirs.tokens[i]), clear.map((i) => ours.tokens[i]), `greedy tokens at steps ${clear}`);
      const worst = worstLogitDifference(ours.logits, theirs.logits);
      assert.ok(worst < tol, `max |logit difference| ${worst} ≥ ${tol}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
