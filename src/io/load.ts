// Load a model directory — moekit's own runs and HuggingFace checkpoints alike — into a DecoderLM
// (interop §3). config.json picks the architecture mapping (src/io/hf/, §3.10); its tensor names are
// mapped onto moekit's parameters; every parameter must be filled exactly once with the right shape and
// every checkpoint tensor must have a place (never random-initialise on load). Weights are read one
// tensor at a time (F32, F16 or BF16). Linear and expert weights may stay 16-bit (`weights`): an
// inference model as large as its checkpoint, computing exactly what the f32 model computes when the
// file is 16-bit already (widening is exact).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DecoderLM, parseModelConfig, type ModelConfig } from '../models/index.js';
import { backend } from '../backend/index.js';
import { ConfigError, MoekitError, shapeStr, type Tensor } from '../tensor/index.js';
import type { MatrixDtype } from '../nn/index.js';
import { toFloat32, type SafetensorsTensor } from './safetensors/index.js';
import { ModelLoadError } from './errors.js';
import { beyondF16, F16_MAX, FILE_DTYPE } from './weight_values.js';
import { detectArchitecture, HfConfigReader, type HfArchitecture } from './hf/index.js';
import { NameMapper } from './hf/names.js';
import { openWeights, type WeightSource } from './hf/weights.js';

export { ModelLoadError };

export interface LoadedModel {
  dir: string;
  model: DecoderLM;
  config: ModelConfig;
  /** The mapping the directory was read with (`model_type`, or `dynmoe`). */
  architecture: HfArchitecture;
  /** config.json as written in the directory. */
  rawConfig: Record<string, unknown>;
  /** Path of tokenizer.json, or null when the directory has none. */
  tokenizerPath: string | null;
  /** Every end-of-sequence id of config.json and generation_config.json (HF allows a list, §3.8). */
  eosTokenIds: number[];
  /** generation_config.json as written, or null. */
  generationConfig: Record<string, unknown> | null;
  /** The parsed run.json (moekit runs), or null. */
  run: unknown;
}

export function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ModelLoadError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelLoadError(`${path} is not valid JSON (${(e as Error).message})`, 'the file is corrupt or truncated');
  }
}

// transformers ≥ 5 keeps experts fused in memory (interop §3.6): gate_up_proj [E, 2I, d], down_proj [E, d, I].
const FUSED_EXPERTS = /^(.*\.mlp)\.experts\.(gate_up_proj|down_proj)(?:\.weight)?$/;
// Buffers some writers save that carry nothing (RoPE frequencies are recomputed).
const IGNORED = /\.rotary_emb\.inv_freq$/;

/**
 * How a loaded model holds its Linear and expert weights: f32 (trainable, exportable), bf16 or f16
 * (inference; rounding when the file is wider), or 'auto': the file's own 16-bit dtype when every matrix
 * in it has that dtype (lossless, half the memory of f32), else f32.
 */
export type WeightsOption = MatrixDtype | 'auto';
export const WEIGHTS_OPTIONS: readonly WeightsOption[] = ['auto', 'f32', 'bf16', 'f16'];

export function parseWeightsOption(value: string, where: string): WeightsOption {
  if ((WEIGHTS_OPTIONS as readonly string[]).includes(value)) return value as WeightsOption;
  throw new ConfigError(`${where}: unknown weights dtype "${value}"`, `use one of ${WEIGHTS_OPTIONS.join(', ')}`);
}

/** The matrix dtype 'auto' means for a checkpoint: its 16-bit dtype if every tensor of rank ≥ 2 has it. */
function resolveWeights(option: WeightsOption, source: WeightSource): MatrixDtype {
  if (option !== 'auto') return option;
  const dtypes = new Set(source.names.filter((n) => source.shapeOf(n).length >= 2).map((n) => source.dtypeOf(n)));
  if (dtypes.size !== 1) return 'f32';
  const only = [...dtypes][0];
  return only === 'BF16' ? 'bf16' : only === 'F16' ? 'f16' : 'f32';
}

/**
 * p ← values: copied into an f32 parameter, rounded into a 16-bit one. Rounding to f16 refuses values
 * beyond its range (they would become ±inf: a silently different model); bf16 has f32's range.
 */
function store(p: Tensor, values: Float32Array, where: string): void {
  if (!p.half) {
    p.data.set(values);
  } else if (p.half.dtype === 'bf16') {
    backend().f32ToBf16(p.half.bits, values, p.size);
  } else {
    const worst = beyondF16(values);
    if (worst > 0) {
      throw new ModelLoadError(`${where}: a value of magnitude ${worst} is beyond float16's range (±${F16_MAX}); --weights f16 would make it infinite`,
        'use --weights bf16 (the range of f32) or --weights f32');
    }
    backend().f32ToF16(p.half.bits, values, p.size);
  }
}

/** Copy a checkpoint's tensors into the model's parameters, checking names and shapes both ways. */
export function loadWeights(model: DecoderLM, source: WeightSource, mapper: NameMapper, extraLayers = 0): void {
  const filled = new Set<string>();
  const fill = (target: string, from: string, data: Float32Array, shape: readonly number[]): void => {
    const p: Tensor | undefined = model.params.get(target);
    if (!p) {
      const layer = /^model\.layers\.(\d+)\./.exec(target);
      // DeepSeek-V3's multi-token-prediction layers sit after the decoder (num_nextn_predict_layers).
      if (layer && Number(layer[1]) >= model.config.num_hidden_layers && Number(layer[1]) < model.config.num_hidden_layers + extraLayers) return;
      throw new ModelLoadError(`${source.path}: tensor ${from} has no place in the model that config.json describes` +
        (target !== from ? ` (read as ${target})` : ''));
    }
    if (!sameShape(shape, p.shape)) {
      throw new ModelLoadError(`${source.path}: tensor ${from} has shape ${shapeStr(shape)}, config.json gives ${shapeStr(p.shape)}`);
    }
    if (filled.has(target)) throw new ModelLoadError(`${source.path}: tensor ${target} is given twice (last as ${from})`);
    store(p, data, `${source.path}: tensor ${from}`);
    filled.add(target);
  };
  let scratch = new Uint16Array(0); // F16/BF16 bytes on their way to f32, reused across tensors
  let wide = new Float32Array(0);   // f32 values on their way to a 16-bit parameter, reused
  // One tensor's values as f32 into `out`: F32 read in place, F16/BF16 through the 16-bit scratch.
  const readF32 = (name: string, dtype: string, out: Float32Array): void => {
    if (dtype === 'F32') {
      source.readInto!(name, bytesOf(out));
      return;
    }
    if (scratch.length < out.length) scratch = new Uint16Array(out.length);
    const half = scratch.subarray(0, out.length);
    source.readInto!(name, bytesOf(half));
    (dtype === 'F16' ? backend().f16ToF32 : backend().bf16ToF32)(out, half, out.length);
  };
  const tied = model.config.tie_word_embeddings;
  for (const name of source.names) {
    // Tied embeddings: writers that keep the shared head (torch.save of a state dict) store it anyway.
    if (IGNORED.test(name) || (tied && name === 'lm_head.weight')) continue;
    const fused = FUSED_EXPERTS.exec(name);
    const target = mapper.toMoekit(name);
    const p = model.params.get(target);
    const dtype = source.dtypeOf(name);
    const shape = source.shapeOf(name);
    const direct = !fused && p && !filled.has(target) && source.readInto && sameShape(shape, p.shape);
    if (direct && p.half && dtype === FILE_DTYPE[p.half.dtype]) {
      // A 16-bit parameter of the file's dtype: the bytes go straight in (one read, no copy).
      source.readInto!(name, bytesOf(p.half.bits));
      filled.add(target);
    } else if (direct && (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16')) {
      if (p.half) {
        if (wide.length < p.size) wide = new Float32Array(p.size);
        const values = wide.subarray(0, p.size);
        readF32(name, dtype, values);
        store(p, values, `${source.path}: tensor ${name}`);
      } else {
        readF32(name, dtype, p.data); // F32: the file's bytes straight into the parameter
      }
      filled.add(target);
    } else {
      const t = floatTensor(source, name);
      if (fused) splitFused(fused[1], fused[2], t, source.path, fill);
      else fill(target, name, toFloat32(t), t.shape);
    }
  }
  const missing = [...model.params.keys()].filter((n) => !filled.has(n));
  if (missing.length > 0) {
    throw new ModelLoadError(`${source.path}: missing ${missing.length} tensor(s) the model in config.json needs: ` +
      `${missing.slice(0, 5).map((n) => `${n} ${shapeStr(model.params.get(n)!.shape)}`).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  }
}

function bytesOf(a: Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function floatTensor(source: WeightSource, name: string): SafetensorsTensor {
  const t = source.read(name);
  if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') {
    throw new ModelLoadError(`${source.path}: tensor ${name} is ${t.dtype}, expected F32, F16 or BF16`);
  }
  return t;
}

/** Per-expert slices of a fused expert tensor, under the per-expert names moekit uses. */
function splitFused(prefix: string, kind: string, t: SafetensorsTensor, path: string,
  fill: (target: string, from: string, data: Float32Array, shape: readonly number[]) => void): void {
  const data = toFloat32(t);
  if (t.shape.length !== 3) throw new ModelLoadError(`${path}: fused expert tensor ${t.name} has shape ${shapeStr(t.shape)}, expected [E, rows, cols]`);
  const [E, rows, cols] = t.shape;
  for (let e = 0; e < E; e++) {
    const slab = data.subarray(e * rows * cols, (e + 1) * rows * cols);
    if (kind === 'down_proj') {
      fill(`${prefix}.experts.${e}.down_proj.weight`, t.name, slab, [rows, cols]);
    } else {
      if (rows % 2 !== 0) throw new ModelLoadError(`${path}: fused ${t.name} has ${rows} rows per expert; gate and up need an even split`);
      const half = rows / 2; // concat(gate, up) along the rows (§3.6)
      fill(`${prefix}.experts.${e}.gate_proj.weight`, t.name, slab.subarray(0, half * cols), [half, cols]);
      fill(`${prefix}.experts.${e}.up_proj.weight`, t.name, slab.subarray(half * cols), [half, cols]);
    }
  }
}

function eosIds(...values: unknown[]): number[] {
  const ids = new Set<number>();
  for (const v of values) for (const id of Array.isArray(v) ? v : [v]) if (typeof id === 'number' && Number.isInteger(id)) ids.add(id);
  return [...ids];
}

export interface LoadOptions {
  /** How Linear and expert weights are held (default f32: a model that can be trained and exported). */
  weights?: WeightsOption;
}

/** Load config.json + weights from a moekit run directory or an HF model directory. */
export function loadModel(dir: string, opts: LoadOptions = {}): LoadedModel {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelLoadError(`model directory ${dir} does not exist`,
      'pass a run directory written by moekit train, or an HF model directory (config.json + safetensors)');
  }
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new ModelLoadError(`${dir} has no config.json`, 'pass a model directory');
  const raw = readJson(configPath);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelLoadError(`${configPath}: expected a JSON object`);
  const source = openWeights(dir);
  try {
    const hf = raw as Record<string, unknown>;
    const architecture = detectArchitecture(hf, source.names, configPath);
    const config = parseModelConfig(architecture.config(new HfConfigReader(hf, configPath)), configPath);
    const model = new DecoderLM(config, { seed: 0, initialize: false, weights: resolveWeights(opts.weights ?? 'f32', source) });
    loadWeights(model, source, new NameMapper(architecture.names), typeof hf.num_nextn_predict_layers === 'number' ? hf.num_nextn_predict_layers : 0);
    const generationPath = join(dir, 'generation_config.json');
    const generationConfig = existsSync(generationPath) ? readJson(generationPath) as Record<string, unknown> : null;
    const tokenizerPath = join(dir, 'tokenizer.json');
    const runPath = join(dir, 'run.json');
    return {
      dir, model, config, architecture, generationConfig, rawConfig: hf,
      eosTokenIds: eosIds(hf.eos_token_id, generationConfig?.eos_token_id),
      tokenizerPath: existsSync(tokenizerPath) ? tokenizerPath : null,
      run: existsSync(runPath) ? readJson(runPath) : null,
    };
  } catch (e) {
    if (e instanceof MoekitError) throw e;
    throw new ModelLoadError(`${dir}: ${(e as Error).message}`);
  } finally {
    source.close();
  }
}
