// Batch-1 generation on the reference MoE models of shared/bench/README.md (the `moe_torch.py --mode infer`
// and llama.cpp llama_decode.mjs workloads): prefill a 256-token prompt, then greedy decode 127 tokens
// through the KV cache (generateTokens, the path `moekit generate` runs), with 1 and N kernel threads.
// First, the weight read a decode step is bound by, from 4 KiB and from 2 MiB pages.
// Random weights and prompt ids (seeded); Top-2 and Top-P (p = 0.4) routers, f32 weights, and Top-2 with
// Linear/expert weights held as f16 and bf16 (the peers of llama.cpp's f16/bf16 GGUF). Reports tok/s of
// the prefill and of the decode steps (min / median / max over reps), one JSON line per (model, threads).
import { backend } from '../src/backend/index.js';
import { DecoderLM } from '../src/models/index.js';
import type { MatrixDtype } from '../src/nn/index.js';
import { Rng, clearPool } from '../src/tensor/index.js';
import { generateTokens, GREEDY } from '../src/generate/index.js';
import { VARIANTS, median, modelConfig } from './train.js';

const PROMPT = 256;
const NEW_TOKENS = 128; // the first comes from the prefill's logits: 127 decode steps

interface Run { prefill: number; decode: number }

function timeRun(model: DecoderLM, prompt: Int32Array): Run {
  const gen = generateTokens(model, prompt, { maxTokens: NEW_TOKENS, sampling: GREEDY });
  for (const _ of gen.stream); // drain
  const s = gen.stats;
  return { prefill: s.promptTokens / s.prefillSeconds, decode: s.decodeSteps / s.decodeSeconds };
}

/**
 * What huge pages buy a decode step: one thread's f32 GEMV 1×1024 · (24576×1024)ᵀ, i.e. a streamed read of
 * 96 MiB of weights, from a plain Float32Array (4 KiB pages) and from a `hugeBuffer` one; GB/s median and
 * best over reps (at least 9), the two interleaved.
 */
function weightReadBench(reps: number): void {
  const be = backend();
  const K = 1024, N = 24576;
  const x = new Float32Array(K).fill(1), y = new Float32Array(N);
  const buffers: [string, Float32Array][] = [['4k', new Float32Array(N * K)], ['huge', new Float32Array(be.hugeBuffer(N * K * 4))]];
  for (const [, w] of buffers) w.fill(0.5);
  const gbps: Record<string, number[]> = { '4k': [], huge: [] };
  for (let r = 0; r < Math.max(9, reps); r++) {
    for (const [pages, w] of buffers) {
      const t0 = performance.now();
      be.matmul(y, x, w, 1, N, K, false, true, false);
      gbps[pages].push((N * K * 4) / ((performance.now() - t0) * 1e6));
    }
  }
  for (const [pages, xs] of Object.entries(gbps)) {
    process.stdout.write(JSON.stringify({ bench: 'weight_read', pages, mib: (N * K * 4) / 2 ** 20, threads: be.threads(),
      gb_per_s_median: Number(median(xs).toFixed(1)), gb_per_s_best: Number(Math.max(...xs).toFixed(1)) }) + '\n');
  }
}

export async function runDecodeBench(opts: { threads: number; reps: number }): Promise<void> {
  const be = backend();
  const initialThreads = be.threads();
  be.setThreads(1);
  weightReadBench(opts.reps);
  const threadCounts = [...new Set([1, 2, opts.threads])];
  const runs: [string, MatrixDtype][] = [['top2', 'f32'], ['top2', 'f16'], ['top2', 'bf16'], ['topp', 'f32']];
  for (const [name, weights] of runs) {
    clearPool();
    // 256 + 127 positions: past the training preset's 256 (RoPE has no learned positions, weights are the same).
    const config = { ...modelConfig(VARIANTS[name]), max_position_embeddings: 512 };
    const model = new DecoderLM(config, { seed: 0, weights });
    const rng = new Rng(2);
    const prompt = new Int32Array(PROMPT).map(() => rng.int(config.vocab_size));
    for (const n of threadCounts) {
      be.setThreads(n);
      timeRun(model, prompt); // warm-up: pool buffers, caches, JIT
      const runs = Array.from({ length: Math.max(3, opts.reps) }, () => timeRun(model, prompt));
      const stat = (xs: number[]) => ({ min: Math.round(Math.min(...xs)), median: Math.round(median(xs)), max: Math.round(Math.max(...xs)) });
      const prefill = stat(runs.map((r) => r.prefill));
      const decode = stat(runs.map((r) => r.decode));
      process.stdout.write(JSON.stringify({
        bench: 'decode', model: name, weights, backend: be.name, isa: be.isa, threads: be.threads(), prompt_tokens: PROMPT,
        decode_steps: NEW_TOKENS - 1, runs: runs.length,
        decode_tok_per_s_median: decode.median, decode_tok_per_s_min: decode.min, decode_tok_per_s_max: decode.max,
        prefill_tok_per_s_median: prefill.median, prefill_tok_per_s_min: prefill.min, prefill_tok_per_s_max: prefill.max,
      }) + '\n');
    }
  }
  be.setThreads(initialThreads);
}
