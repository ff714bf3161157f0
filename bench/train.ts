// Training throughput on the reference models of shared/bench/README.md — the workloads of
// `moe_torch.py --mode train --router dense|top2|topp`: vocab 8192, d 256, 4 layers, 4 heads × 64,
// 8 × 256 tokens per step, AdamW (lr 3e-4, wd 0.1), float32, random token ids; FFN = one SwiGLU of 688
// (dense) or 8 SwiGLU experts of 688 in every layer with Top-2 (renormalised) or Top-P (p = 0.4, raw
// weights) routing, loss = CE + 0.01 × Switch load balance.
// Also reports the step time spent in the experts, to check that Top-P's cost follows the experts it
// uses: (Top-P step − Top-2 step) / Top-2 expert time ≈ (k̄_P − 2) / 2.
import { backend, referenceBackend, setBackend, type Backend } from '../src/backend/index.js';
import { DecoderLM, parseModelConfig, type ModelConfig } from '../src/models/index.js';
import { Rng, clearPool, withGraph } from '../src/tensor/index.js';
import { preset } from '../src/train/presets.js';
import { AdamW } from '../src/train/adamw.js';

export const VARIANTS: Record<string, Record<string, unknown> | null> = {
  dense: null,
  top2: { type: 'top_k', k: 2, renormalize: true, load_balance_coef: 0.01 },
  topp: { type: 'top_p', top_p: 0.4, load_balance_coef: 0.01, entropy_coef: 0 },
};

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function modelConfig(router: Record<string, unknown> | null): ModelConfig {
  const dense = preset('bench').model;
  if (!router) return dense;
  const { moe: _none, model_type: _type, ...fields } = dense;
  // The PyTorch workload's router is an nn.Linear with its default init, U(±1/√d): std 1/√(3d). The same
  // std here gives the same sharpness of routing at the start, hence comparable Top-P expert counts.
  return parseModelConfig({ ...fields, num_experts: 8, router, router_initializer_range: 1 / Math.sqrt(3 * dense.hidden_size) });
}

interface StepTimes {
  seconds: number[];
  /** Seconds per step inside the expert kernels (dispatch, grouped GEMMs, SwiGLU, combine). */
  expertSeconds: number[];
  meanK: number | null;
}

/** Kernels whose time is the experts' time in an all-MoE model. */
const EXPERT_KERNELS = ['gatherRows', 'scatterAddRows', 'groupedMatmul', 'groupedMatmulWeightGrad',
  'weightedScatterAdd', 'weightedScatterAddBackward', 'swigluForward', 'swigluBackward'] as const;

/** The backend with the expert kernels timed into `clock.seconds`. */
function timedBackend(be: Backend, clock: { seconds: number }): Backend {
  const timed = { ...be } as Record<string, unknown>;
  for (const name of EXPERT_KERNELS) {
    const kernel = be[name] as (...args: unknown[]) => void;
    timed[name] = (...args: unknown[]) => {
      const t0 = performance.now();
      kernel(...args);
      clock.seconds += (performance.now() - t0) / 1000;
    };
  }
  return timed as unknown as Backend;
}

/** One model under training on the bench batch, with its timings so far. */
interface Trainee {
  model: DecoderLM;
  opt: AdamW;
  inputs: Int32Array;
  targets: Int32Array;
  times: StepTimes;
  kSum: number;
  kCount: number;
}

const B = 8;
const T = 256;

function trainee(config: ModelConfig): Trainee {
  const model = new DecoderLM(config, { seed: 0 });
  const opt = new AdamW(model.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const rng = new Rng(1);
  const inputs = new Int32Array(B * T).map(() => rng.int(config.vocab_size));
  const targets = new Int32Array(B * T).map(() => rng.int(config.vocab_size));
  return { model, opt, inputs, targets, times: { seconds: [], expertSeconds: [], meanK: null }, kSum: 0, kCount: 0 };
}

/** One training step; recorded (time, expert time, k per token) unless it is a warm-up step. */
function trainStep(t: Trainee, s: number, record: boolean, clock: { seconds: number }): void {
  const t0 = performance.now();
  clock.seconds = 0;
  t.opt.zeroGrad();
  withGraph((g) => {
    const r = t.model.loss(t.inputs, t.targets, B, T, { training: true, step: s });
    g.backward(r.loss);
    for (const rep of r.reports) {
      const routing = rep.routing as { T: number; output: { assignment: { token: Int32Array } } } | undefined;
      if (routing && record) {
        t.kSum += routing.output.assignment.token.length / routing.T;
        t.kCount++;
      }
    }
  });
  const norm = t.opt.gradNorm();
  t.opt.update(3e-4, norm > 1 ? 1 / norm : 1);
  if (record) {
    t.times.seconds.push((performance.now() - t0) / 1000);
    t.times.expertSeconds.push(clock.seconds);
    t.times.meanK = t.kCount > 0 ? t.kSum / t.kCount : null;
  }
}

/**
 * Trains the models side by side, their steps alternating (A B A B ...), so that models compared with
 * each other see the same machine: on the shared 2-core machines the load changes within seconds, and
 * timing one model after the other turned that drift into differences between them.
 */
function timeSteps(configs: ModelConfig[], steps: number, warmup: number): StepTimes[] {
  // Each group starts with an empty buffer pool: buffers pooled by the previous models would sit in
  // memory unused and make V8's collector work harder (they slowed the next model by up to 2× here).
  clearPool();
  const trainees = configs.map(trainee);
  const clock = { seconds: 0 };
  const be = backend();
  setBackend(timedBackend(be, clock));
  for (let s = 0; s < warmup + steps; s++) for (const t of trainees) trainStep(t, s, s >= warmup, clock);
  setBackend(be);
  return trainees.map((t) => t.times);
}

export async function runTrainBench(opts: { threads: number; reps: number }): Promise<void> {
  const be = backend();
  be.setThreads(opts.threads);
  const tokens = 8 * 256;
  const results: Record<string, StepTimes> = {};
  const steps = Math.max(3, opts.reps);
  [results.dense] = timeSteps([modelConfig(VARIANTS.dense)], steps, 2);
  [results.top2, results.topp] = timeSteps([modelConfig(VARIANTS.top2), modelConfig(VARIANTS.topp)], steps, 2); // compared: side by side
  for (const [name, router] of Object.entries(VARIANTS)) {
    const t = results[name];
    process.stdout.write(JSON.stringify({
      bench: 'train', model: name, backend: be.name, isa: be.isa, threads: be.threads(), tokens_per_step: tokens,
      steps: t.seconds.length, tok_per_s_median: Math.round(tokens / median(t.seconds)),
      tok_per_s_min: Math.round(tokens / Math.max(...t.seconds)), tok_per_s_max: Math.round(tokens / Math.min(...t.seconds)),
      step_ms_median: +(median(t.seconds) * 1000).toFixed(1), ...(t.meanK !== null ? { mean_k: +t.meanK.toFixed(3) } : {}),
      ...(router ? { expert_ms_median: +(median(t.expertSeconds) * 1000).toFixed(1) } : {}),
    }) + '\n');
  }
  // Does Top-P's cost follow the experts it uses? Compare (Top-P step − Top-2 step) / Top-2 expert time
  // with (k̄_P − 2) / 2, and the same ratio measured on the expert kernels alone.
  const p = results.topp;
  const two = results.top2;
  if (p.meanK !== null) {
    const expected = (p.meanK - 2) / 2;
    process.stdout.write(JSON.stringify({
      bench: 'topp_cost', mean_k_topp: +p.meanK.toFixed(3), expected_extra: +expected.toFixed(3),
      measured_extra_step: +((median(p.seconds) - median(two.seconds)) / median(two.expertSeconds)).toFixed(3),
      measured_extra_experts: +((median(p.expertSeconds) - median(two.expertSeconds)) / median(two.expertSeconds)).toFixed(3),
    }) + '\n');
  }
  if (be.name !== 'reference') {
    // One step of the dense model on the reference backend, for the native/reference ratio.
    setBackend(referenceBackend);
    const [t] = timeSteps([modelConfig(null)], 1, 0);
    process.stdout.write(JSON.stringify({
      bench: 'train', model: 'dense', backend: 'reference', isa: 'js', threads: 1, tokens_per_step: tokens, steps: 1,
      tok_per_s_median: Math.round(tokens / t.seconds[0]), step_ms_median: +(t.seconds[0] * 1000).toFixed(1),
    }) + '\n');
    setBackend(be);
  }
}
