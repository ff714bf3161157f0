// A training run's configuration: { model: <HF config fields>, train: {...}, data: {...} }.
// Every section rejects unknown keys with the nearest valid one; values are range-checked here, before
// any work starts.
import { ConfigError } from '../tensor/index.js';
import { checkKeys, parseModelConfig, type ModelConfig } from '../models/index.js';
import type { DistillConfig } from './distill.js';
import type { TemperatureSchedule } from './sampling.js';

export interface TrainConfig {
  steps: number;
  batch_size: number;
  seq_len: number;
  /** Micro-batches per optimizer step (gradient accumulation). */
  grad_accum: number;
  lr: number;
  /** Cosine decay ends at lr · min_lr_ratio (10 %: Top-P paper, LLaMA). */
  min_lr_ratio: number;
  warmup_steps: number;
  weight_decay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Global gradient-norm clip (0 disables). */
  grad_clip: number;
  eval_interval: number;
  eval_batches: number;
  log_interval: number;
  checkpoint_interval: number;
  seed: number;
  /** Fine-tuning (§6): parameters that get no update — the experts, or everything but experts and routers. */
  freeze: 'experts' | 'non_experts' | null;
  /** Multiplies the experts' gradients before clipping (§11, fairseq `--moe-normalize-expert-grad`). */
  expert_grad_scale: number;
  /** Multiplies the learning rate of the experts' parameters (§11). */
  expert_lr_scale: number;
  /** Dense-then-sparse initialisation (§10): `upcycle` starts the MoE model from the dense run in init_from. */
  init: 'upcycle' | null;
  /** A trained dense run directory (its model.safetensors) for `init`. */
  init_from: string | null;
  /** Staged distillation from a teacher run (§5, §12); null = none. */
  distill: DistillConfig | null;
}

export interface DataConfig {
  /** Users' own files (.txt / .jsonl); empty = the bundled Brown corpus. */
  files: string[];
  /** Fraction of each source's documents held out for validation. */
  valid_fraction: number;
  /** Temperature-heated sampling over the sources (§10); null = the packed stream in shuffled order. */
  temperature_schedule: TemperatureSchedule | null;
}

export interface RunConfig {
  model: ModelConfig;
  train: TrainConfig;
  data: DataConfig;
}

export const TRAIN_DEFAULTS: TrainConfig = {
  steps: 1000,
  batch_size: 8,
  seq_len: 256,
  grad_accum: 1,
  lr: 3e-4,
  min_lr_ratio: 0.1,
  warmup_steps: 100,
  weight_decay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  grad_clip: 1.0,
  eval_interval: 100,
  eval_batches: 8,
  log_interval: 10,
  checkpoint_interval: 200,
  seed: 1234,
  freeze: null,
  expert_grad_scale: 1,
  expert_lr_scale: 1,
  init: null,
  init_from: null,
  distill: null,
};

export const DATA_DEFAULTS: DataConfig = { files: [], valid_fraction: 0.1, temperature_schedule: null };

const TRAIN_KEYS = Object.keys(TRAIN_DEFAULTS);
const DATA_KEYS = Object.keys(DATA_DEFAULTS);

function num(where: string, key: string, v: unknown, check: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) {
    throw new ConfigError(`${where}: "${key}" must be ${what}, got ${JSON.stringify(v)}`);
  }
  return v;
}

const isPosInt = (x: number) => Number.isInteger(x) && x > 0;
const isNonNegInt = (x: number) => Number.isInteger(x) && x >= 0;

export function parseTrainConfig(raw: unknown, where = 'train config'): TrainConfig {
  const o = asObject(raw, where);
  checkKeys(where, o, TRAIN_KEYS);
  const c = { ...TRAIN_DEFAULTS, ...o } as Record<string, unknown>;
  const posInt = ['steps', 'batch_size', 'seq_len', 'grad_accum', 'eval_interval', 'eval_batches', 'log_interval', 'checkpoint_interval'];
  for (const k of posInt) num(where, k, c[k], isPosInt, 'a positive integer');
  num(where, 'warmup_steps', c.warmup_steps, isNonNegInt, 'a non-negative integer');
  num(where, 'seed', c.seed, isNonNegInt, 'a non-negative integer');
  num(where, 'lr', c.lr, (x) => x > 0, 'a positive number');
  num(where, 'min_lr_ratio', c.min_lr_ratio, (x) => x >= 0 && x <= 1, 'in [0, 1]');
  num(where, 'weight_decay', c.weight_decay, (x) => x >= 0, 'a non-negative number');
  num(where, 'beta1', c.beta1, (x) => x >= 0 && x < 1, 'in [0, 1)');
  num(where, 'beta2', c.beta2, (x) => x >= 0 && x < 1, 'in [0, 1)');
  num(where, 'eps', c.eps, (x) => x > 0, 'a positive number');
  num(where, 'grad_clip', c.grad_clip, (x) => x >= 0, 'a non-negative number (0 disables clipping)');
  num(where, 'expert_grad_scale', c.expert_grad_scale, (x) => x >= 0, 'a non-negative number');
  num(where, 'expert_lr_scale', c.expert_lr_scale, (x) => x >= 0, 'a non-negative number');
  if (c.freeze !== null && c.freeze !== 'experts' && c.freeze !== 'non_experts') {
    throw new ConfigError(`${where}: "freeze" must be "experts", "non_experts" or null, got ${JSON.stringify(c.freeze)}`);
  }
  if (c.init !== null && c.init !== 'upcycle') throw new ConfigError(`${where}: "init" must be "upcycle" or null, got ${JSON.stringify(c.init)}`);
  if (c.init_from !== null && (typeof c.init_from !== 'string' || c.init_from === '')) {
    throw new ConfigError(`${where}: "init_from" must be a run directory or null, got ${JSON.stringify(c.init_from)}`);
  }
  if ((c.init === null) !== (c.init_from === null)) {
    throw new ConfigError(`${where}: "init" and "init_from" go together`, 'e.g. "init": "upcycle", "init_from": "runs/dense"');
  }
  if (c.distill !== null) c.distill = parseDistill(c.distill, `${where}.distill`);
  return c as unknown as TrainConfig;
}

const DISTILL_KEYS = ['teacher', 'weight', 'stop_step'];

function parseDistill(raw: unknown, where: string): DistillConfig {
  const o = asObject(raw, where);
  checkKeys(where, o, DISTILL_KEYS);
  if (typeof o.teacher !== 'string' || o.teacher === '') throw new ConfigError(`${where}: "teacher" must be a run directory, got ${JSON.stringify(o.teacher)}`);
  return {
    teacher: o.teacher,
    weight: num(where, 'weight', o.weight ?? 0.25, (x) => x > 0 && x <= 1, 'in (0, 1]'),
    stop_step: num(where, 'stop_step', o.stop_step, isPosInt, 'a positive integer (the step where distillation ends)'),
  };
}

const SCHEDULE_KEYS = ['t0', 't_max', 'steps', 'shape'];

function parseSchedule(raw: unknown, where: string): TemperatureSchedule {
  const o = asObject(raw, where);
  checkKeys(where, o, SCHEDULE_KEYS);
  const shape = o.shape ?? 'linear';
  if (shape !== 'linear' && shape !== 'sqrt') throw new ConfigError(`${where}: "shape" must be "linear" or "sqrt", got ${JSON.stringify(shape)}`);
  return {
    t0: num(where, 't0', o.t0 ?? 1, (x) => x > 0, 'a positive number'),
    t_max: num(where, 't_max', o.t_max, (x) => x > 0, 'a positive number (e.g. 5)'),
    steps: num(where, 'steps', o.steps, isPosInt, 'a positive integer (steps from t0 to t_max)'),
    shape,
  };
}

export function parseDataConfig(raw: unknown, where = 'data config'): DataConfig {
  const o = asObject(raw, where);
  checkKeys(where, o, DATA_KEYS);
  const c = { ...DATA_DEFAULTS, ...o } as Record<string, unknown>;
  if (!Array.isArray(c.files) || c.files.some((f) => typeof f !== 'string')) {
    throw new ConfigError(`${where}: "files" must be a list of file paths`);
  }
  num(where, 'valid_fraction', c.valid_fraction, (x) => x > 0 && x < 1, 'in (0, 1)');
  if (c.temperature_schedule !== null) c.temperature_schedule = parseSchedule(c.temperature_schedule, `${where}.temperature_schedule`);
  return c as unknown as DataConfig;
}

export function parseRunConfig(raw: unknown, where = 'config'): RunConfig {
  const o = asObject(raw, where);
  checkKeys(where, o, ['model', 'train', 'data']);
  if (o.model === undefined) throw new ConfigError(`${where}: missing the "model" section`);
  const run: RunConfig = {
    model: parseModelConfig(o.model, `${where}.model`),
    train: parseTrainConfig(o.train ?? {}, `${where}.train`),
    data: parseDataConfig(o.data ?? {}, `${where}.data`),
  };
  if (run.train.seq_len > run.model.max_position_embeddings) {
    throw new ConfigError(`${where}.train: "seq_len" ${run.train.seq_len} exceeds model.max_position_embeddings ${run.model.max_position_embeddings}`);
  }
  return run;
}

function asObject(raw: unknown, where: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: expected a JSON object`);
  return raw as Record<string, unknown>;
}
