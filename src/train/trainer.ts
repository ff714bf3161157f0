// The training loop: gradient accumulation, global-norm clipping, AdamW with warm-up + cosine decay,
// periodic evaluation, metrics.jsonl, atomic checkpoints and exact resume.
// Exactness: batches are a pure function of the step index, the backend is deterministic for a fixed
// thread count, and the optimizer state is saved bit for bit — so a resumed run repeats the losses of
// an uninterrupted one.
import { mkdirSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { MoekitError, noGrad, withGraph } from '../tensor/index.js';
import { RoutingCollector, type RoutingMetrics } from '../eval/routing.js';
import { DecoderLM, type FfnFactory } from '../models/index.js';
import { AdamW } from './adamw.js';
import { learningRate } from './schedule.js';
import { MetricsLog, type MetricsRecord } from './metrics.js';
import { CheckpointError, hasCheckpoint, loadCheckpoint, restore, saveCheckpoint } from './checkpoint.js';
import type { RunConfig } from './config.js';
import { applyFreeze, lrScaleOf, scaleExpertGrads } from './methods.js';
import { upcycleFrom } from './upcycle.js';
import { Distiller } from './distill.js';

/** One micro-batch: rows of T tokens, row-major; targets < 0 are ignored. */
export interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
}

/** What the trainer needs from the data layer. */
export interface TrainData {
  /** The index-th training micro-batch (a pure function of index: resume needs no replay). */
  trainBatch(index: number): Batch;
  /** Fixed validation batches. */
  validBatches(): Batch[];
  tokenizerJson: string;
}

export interface TrainEvents {
  onStart?(info: { startStep: number; totalSteps: number; parameters: number; tokensPerStep: number }): void;
  onStep?(rec: MetricsRecord): void;
  onCheckpoint?(dir: string, step: number): void;
}

export interface TrainOptions {
  outDir: string;
  resume?: boolean;
  ffn?: FfnFactory;
  events?: TrainEvents;
  /** Checked after every step; when it returns true the trainer checkpoints and stops (Ctrl-C). */
  shouldStop?: () => boolean;
}

export interface TrainResult {
  model: DecoderLM;
  steps: number;
  tokens: number;
  finalValLoss: number | null;
  stopped: boolean;
  metrics: MetricsRecord[];
}

export interface Evaluation {
  /** Token-weighted mean cross-entropy. */
  loss: number;
  /** §16 routing statistics (null for a dense model). */
  routing: RoutingMetrics | null;
}

/** Validation loss and routing statistics over the given batches (evaluation mode: no noise, eval capacity). */
export function evaluate(model: DecoderLM, batches: Batch[], seqLen: number): Evaluation {
  let sum = 0;
  let count = 0;
  const routing = new RoutingCollector();
  for (const b of batches) {
    noGrad(() => {
      const r = model.loss(b.inputs, b.targets, b.inputs.length / seqLen, seqLen);
      sum += r.loss.item() * r.count;
      count += r.count;
      routing.add(r.reports);
    });
  }
  return { loss: count > 0 ? sum / count : NaN, routing: routing.summary(model, seqLen) };
}

/** Create dir (and parents) or fail with a one-line error naming it. */
export function ensureWritableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new MoekitError(`cannot write to output directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'choose another --out');
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Let pending events (a Ctrl-C handler, timers) run between steps: the step itself is synchronous. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export async function train(run: RunConfig, data: TrainData, opts: TrainOptions): Promise<TrainResult> {
  const t = run.train;
  ensureWritableDir(opts.outDir);
  const model = new DecoderLM(run.model, { seed: t.seed, ffn: opts.ffn });
  applyFreeze(model, t.freeze);
  const optimizer = new AdamW(model.params, {
    beta1: t.beta1, beta2: t.beta2, eps: t.eps, weightDecay: t.weight_decay, lrScaleOf: lrScaleOf(t),
  });
  const distiller = t.distill ? new Distiller(t.distill, run.model.vocab_size) : null;
  const metrics = new MetricsLog(join(opts.outDir, 'metrics.jsonl'));
  let step = 0;
  let tokens = 0;
  let elapsed = 0;

  if (opts.resume) {
    const ck = loadCheckpoint(opts.outDir);
    if (!sameJson(ck.run, run)) {
      throw new CheckpointError(`${join(ck.dir, 'run.json')}: the checkpoint was made with a different configuration`,
        'resume with the same --config/--preset and flags, or start a new --out');
    }
    restore(ck, model.params, optimizer);
    model.routingRng.setState(ck.state.rng);
    step = ck.state.step;
    tokens = ck.state.tokens;
    elapsed = ck.state.elapsed_s;
    metrics.reset(step);
  } else {
    if (hasCheckpoint(opts.outDir)) {
      throw new MoekitError(`${opts.outDir} already holds a training run`, 'pass --resume to continue it, or choose another --out');
    }
    if (t.init === 'upcycle') upcycleFrom(model, t.init_from!);
    metrics.reset();
  }

  const B = t.batch_size;
  const T = t.seq_len;
  const tokensPerStep = B * T * t.grad_accum;
  const valid = data.validBatches();
  opts.events?.onStart?.({ startStep: step, totalSteps: t.steps, parameters: model.parameterCount(), tokensPerStep });

  const checkpoint = () => {
    const dir = saveCheckpoint({
      outDir: opts.outDir, run, params: model.params, optimizer, tokenizerJson: data.tokenizerJson,
      state: { step, tokens, rng: model.routingRng.getState(), elapsed_s: elapsed },
    });
    opts.events?.onCheckpoint?.(dir, step);
  };

  let windowLoss = 0;
  let windowAux = 0;
  let windowSteps = 0;
  let windowStart = performance.now();
  let windowTokens = 0;
  let finalValLoss: number | null = null;
  let stopped = false;

  while (step < t.steps) {
    const stepStart = performance.now();
    optimizer.zeroGrad();
    let loss = 0;
    let aux = 0;
    for (let micro = 0; micro < t.grad_accum; micro++) {
      const batch = data.trainBatch(step * t.grad_accum + micro);
      withGraph((g) => {
        // The aux losses' gradients are injected by the MoE layers; their value is logged beside.
        // While distilling (§12 staged KD) the loss is the mixed soft-target cross-entropy.
        const forward = { training: true, step };
        const r = distiller?.active(step)
          ? distiller.loss(model, batch.inputs, batch.targets, B, T, forward)
          : model.loss(batch.inputs, batch.targets, B, T, forward);
        loss += r.loss.item() / t.grad_accum;
        aux += r.auxTotal / t.grad_accum;
        g.backward(r.loss, 1 / t.grad_accum);
      });
    }
    if (!Number.isFinite(loss)) {
      throw new MoekitError(`training diverged: loss is ${loss} at step ${step + 1}`, 'lower train.lr or raise warmup_steps; the last checkpoint is intact');
    }
    scaleExpertGrads(model, t.expert_grad_scale);
    const gradNorm = optimizer.gradNorm();
    const clipScale = t.grad_clip > 0 && gradNorm > t.grad_clip ? t.grad_clip / gradNorm : 1;
    const lr = learningRate(step, t.steps, t.lr, t.warmup_steps, t.min_lr_ratio);
    optimizer.update(lr, clipScale);
    step++;
    tokens += tokensPerStep;
    windowLoss += loss;
    windowAux += aux;
    windowSteps++;
    windowTokens += tokensPerStep;
    elapsed += (performance.now() - stepStart) / 1000;

    const last = step === t.steps;
    const stopNow = opts.shouldStop?.() ?? false;
    if (step % t.log_interval === 0 || step % t.eval_interval === 0 || last || stopNow) {
      const now = performance.now();
      const rec: MetricsRecord = {
        step, tokens, train_loss: windowLoss / windowSteps, lr, grad_norm: gradNorm,
        tok_per_s: windowTokens / Math.max(1e-9, (now - windowStart) / 1000),
      };
      if (model.config.moe) rec.aux_loss = windowAux / windowSteps;
      if (step % t.eval_interval === 0 || last) {
        const ev = evaluate(model, valid, T);
        rec.val_loss = ev.loss;
        rec.val_ppl = Math.exp(ev.loss);
        if (ev.routing) {
          rec.mean_k = ev.routing.mean_k;
          rec.activated_params = ev.routing.activated_params;
          rec.flops_per_token = ev.routing.flops_per_token;
          rec.moe = ev.routing.layers;
        }
        finalValLoss = ev.loss;
      }
      metrics.append(rec);
      opts.events?.onStep?.(rec);
      windowLoss = 0;
      windowAux = 0;
      windowSteps = 0;
      windowTokens = 0;
      windowStart = performance.now();
    }
    if (step % t.checkpoint_interval === 0 || last || stopNow) checkpoint();
    await yieldToEventLoop();
    if (stopNow && !last) {
      stopped = true;
      break;
    }
  }
  return { model, steps: step, tokens, finalValLoss, stopped, metrics: metrics.read() };
}
