// Checkpoints. Layout of a run directory:
//   config.json, model.safetensors, tokenizer.json   the latest model as an HF model directory
//   run.json                                          the full run configuration
//   metrics.jsonl                                     one JSON object per logged step
//   checkpoints/step-00000120/                        everything needed to resume exactly:
//       model.safetensors, optimizer.safetensors (AdamW m and v), trainer_state.json (step, tokens,
//       RNG state), config.json, tokenizer.json, run.json
//   checkpoints/latest                                the name of the newest complete checkpoint
// A checkpoint is written into a temp folder and renamed into place; only then is `latest` replaced
// (atomically). A crash at any point leaves the previous checkpoint and `latest` untouched.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MoekitError, type RngState } from '../tensor/index.js';
import { toHfConfig } from '../models/index.js';
import type { ParamMap } from '../nn/index.js';
import { fsyncDir, writeFileAtomic } from '../io/atomic.js';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from '../io/safetensors/index.js';
import type { RunConfig } from './config.js';
import type { AdamW } from './adamw.js';

export class CheckpointError extends MoekitError {}

export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  tokens: number;
  rng: RngState;
  elapsed_s: number;
}

export interface Checkpoint {
  dir: string;
  state: TrainerState;
  run: unknown;
  params: Map<string, Float32Array>;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

const KEEP = 2;

function stepName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

function paramTensors(params: ParamMap): SafetensorsTensor[] {
  return [...params].map(([name, p]) => ({ name, dtype: 'F32' as const, shape: [...p.shape], data: p.data }));
}

function stateTensors(prefix: string, state: Map<string, Float32Array>, params: ParamMap): SafetensorsTensor[] {
  return [...state].map(([name, data]) => ({ name: `${prefix}.${name}`, dtype: 'F32' as const, shape: [...params.get(name)!.shape], data }));
}

export interface SaveInput {
  outDir: string;
  run: RunConfig;
  params: ParamMap;
  optimizer: AdamW;
  state: TrainerState;
  tokenizerJson: string;
}

export function saveCheckpoint(s: SaveInput): string {
  const root = join(s.outDir, 'checkpoints');
  mkdirSync(root, { recursive: true });
  const name = stepName(s.state.step);
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const configJson = JSON.stringify(toHfConfig(s.run.model), null, 2) + '\n';
  const runJson = JSON.stringify(s.run, null, 2) + '\n';
  const meta = { format: 'pt', producer: 'moekit' };
  writeSafetensors(join(tmp, 'model.safetensors'), paramTensors(s.params), meta);
  writeSafetensors(join(tmp, 'optimizer.safetensors'), [
    ...stateTensors('m', s.optimizer.m, s.params), ...stateTensors('v', s.optimizer.v, s.params),
  ], { ...meta, adamw_step: String(s.optimizer.step) });
  writeFileAtomic(join(tmp, 'trainer_state.json'), JSON.stringify(s.state, null, 2) + '\n');
  writeFileAtomic(join(tmp, 'config.json'), configJson);
  writeFileAtomic(join(tmp, 'tokenizer.json'), s.tokenizerJson);
  writeFileAtomic(join(tmp, 'run.json'), runJson);
  const final = join(root, name);
  rmSync(final, { recursive: true, force: true }); // a leftover from an interrupted run of the same step
  renameSync(tmp, final);
  fsyncDir(root);
  writeFileAtomic(join(root, 'latest'), name + '\n');

  // The run directory itself is an HF model directory of the newest weights.
  writeSafetensors(join(s.outDir, 'model.safetensors'), paramTensors(s.params), meta);
  writeFileAtomic(join(s.outDir, 'config.json'), configJson);
  writeFileAtomic(join(s.outDir, 'tokenizer.json'), s.tokenizerJson);
  writeFileAtomic(join(s.outDir, 'run.json'), runJson);

  const old = readdirSync(root).filter((f) => /^step-\d{8}$/.test(f)).sort();
  for (const f of old.slice(0, Math.max(0, old.length - KEEP))) rmSync(join(root, f), { recursive: true, force: true });
  return final;
}

export function hasCheckpoint(outDir: string): boolean {
  return existsSync(join(outDir, 'checkpoints', 'latest'));
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CheckpointError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${path} is not valid JSON (${(e as Error).message}); the file is corrupt or truncated`);
  }
}

function readTensors(path: string, prefix = ''): Map<string, Float32Array> {
  let file;
  try {
    file = readSafetensors(path);
  } catch (e) {
    throw new CheckpointError(`${path}: ${(e as Error).message}`, 'the checkpoint is corrupt or truncated; earlier checkpoints are untouched');
  }
  const out = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) {
    if (!name.startsWith(prefix)) continue;
    if (!(t.data instanceof Float32Array)) throw new CheckpointError(`${path}: tensor ${name} is ${t.dtype}, expected F32`);
    out.set(name.slice(prefix.length), t.data);
  }
  return out;
}

/** Read the newest complete checkpoint; every failure names the file. Nothing on disk is modified. */
export function loadCheckpoint(outDir: string): Checkpoint {
  const latestPath = join(outDir, 'checkpoints', 'latest');
  if (!existsSync(latestPath)) {
    throw new CheckpointError(`no checkpoint to resume from in ${outDir} (missing ${latestPath})`, 'start without --resume');
  }
  const name = readFileSync(latestPath, 'utf8').trim();
  if (!/^step-\d{8}$/.test(name)) throw new CheckpointError(`${latestPath} is corrupt: "${name.slice(0, 40)}" is not a checkpoint name`);
  const dir = join(outDir, 'checkpoints', name);
  const state = readJson(join(dir, 'trainer_state.json')) as TrainerState;
  if (typeof state !== 'object' || state === null || !Number.isInteger(state.step) || !Array.isArray(state.rng) || state.rng.length !== 4) {
    throw new CheckpointError(`${join(dir, 'trainer_state.json')} is missing step/rng fields`);
  }
  return {
    dir,
    state,
    run: readJson(join(dir, 'run.json')),
    params: readTensors(join(dir, 'model.safetensors')),
    m: readTensors(join(dir, 'optimizer.safetensors'), 'm.'),
    v: readTensors(join(dir, 'optimizer.safetensors'), 'v.'),
  };
}

/** Copy a checkpoint's tensors into the live model and optimizer, checking names and sizes. */
export function restore(ck: Checkpoint, params: ParamMap, optimizer: AdamW): void {
  const where = ck.dir;
  for (const [name, p] of params) {
    const data = ck.params.get(name);
    const m = ck.m.get(name);
    const v = ck.v.get(name);
    if (!data || !m || !v) throw new CheckpointError(`${where}: parameter ${name} is missing from the checkpoint`);
    if (data.length !== p.size || m.length !== p.size || v.length !== p.size) {
      throw new CheckpointError(`${where}: parameter ${name} has ${data.length} values, the model needs ${p.size}`);
    }
    p.data.set(data);
    optimizer.m.get(name)!.set(m);
    optimizer.v.get(name)!.set(v);
  }
  for (const name of ck.params.keys()) {
    if (!params.has(name)) throw new CheckpointError(`${where}: checkpoint has parameter ${name} that the model does not`);
  }
  optimizer.step = ck.state.step;
}
