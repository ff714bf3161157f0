// Load a moekit run / model directory: config.json (validated by parseModelConfig) and model.safetensors
// into a DecoderLM. Every tensor is checked by name, shape and dtype (F32, F16 or BF16 → f32); a missing,
// extra or misshapen tensor is an error naming the file and the tensor. tokenizer.json and run.json are
// reported by path when present (the caller decides what it needs).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MoekitError, shapeStr } from '../tensor/index.js';
import { readSafetensors, toFloat32 } from '../io/safetensors.js';
import { parseModelConfig, type ModelConfig } from './config.js';
import { DecoderLM } from './decoder.js';

export class ModelLoadError extends MoekitError {}

export interface LoadedModel {
  dir: string;
  model: DecoderLM;
  config: ModelConfig;
  /** Path of tokenizer.json, or null when the directory has none. */
  tokenizerPath: string | null;
  /** The parsed run.json (moekit runs), or null. */
  run: unknown;
}

function readJson(path: string): unknown {
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

/** Copy a safetensors file's tensors into the model's parameters, checking names and shapes both ways. */
export function loadWeights(model: DecoderLM, path: string): void {
  let file;
  try {
    file = readSafetensors(path);
  } catch (e) {
    if (e instanceof MoekitError) throw e; // already names the file
    throw new ModelLoadError(`${path}: ${(e as Error).message}`);
  }
  for (const [name, p] of model.params) {
    const t = file.tensors.get(name);
    if (!t) throw new ModelLoadError(`${path}: missing tensor ${name} (shape ${shapeStr(p.shape)}) that the model in config.json needs`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new ModelLoadError(`${path}: tensor ${name} has shape ${shapeStr(t.shape)}, config.json gives ${shapeStr(p.shape)}`);
    }
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') {
      throw new ModelLoadError(`${path}: tensor ${name} is ${t.dtype}, expected F32, F16 or BF16`);
    }
    p.data.set(toFloat32(t));
  }
  for (const name of file.tensors.keys()) {
    if (!model.params.has(name)) throw new ModelLoadError(`${path}: tensor ${name} has no place in the model that config.json describes`);
  }
}

/** Load config.json + model.safetensors from a directory (a moekit run directory or an HF model directory). */
export function loadModel(dir: string): LoadedModel {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelLoadError(`model directory ${dir} does not exist`, 'pass a run directory written by moekit train (config.json + model.safetensors)');
  }
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new ModelLoadError(`${dir} has no config.json`, 'pass a run directory written by moekit train');
  const config = parseModelConfig(readJson(configPath), configPath);
  const weights = join(dir, 'model.safetensors');
  if (!existsSync(weights)) throw new ModelLoadError(`${dir} has no model.safetensors`);
  const model = new DecoderLM(config, { seed: 0 });
  loadWeights(model, weights);
  const tokenizerPath = join(dir, 'tokenizer.json');
  const runPath = join(dir, 'run.json');
  return {
    dir, model, config,
    tokenizerPath: existsSync(tokenizerPath) ? tokenizerPath : null,
    run: existsSync(runPath) ? readJson(runPath) : null,
  };
}
