// moekit model → GGUF for llama.cpp (interop.md §5): the plan (architecture, metadata, lazily encoded
// tensors) and the export of a model directory. A model becomes one llama.cpp architecture whose
// hard-coded routing (§5.9) reproduces moekit's router at inference (choose_arch.ts); anything that would
// change the model's outputs is refused with the reason, unless the caller opts into an approximate export.
import { basename, resolve } from 'node:path';
import type { ModelConfig } from '../../models/config.js';
import { Tokenizer } from '../../data/index.js';
import { GgufError } from '../errors.js';
import { loadModel } from '../load.js';
import { checkRopeScaling } from './checks.js';
import { chooseArch } from './choose_arch.js';
import { gv, type GgufValue } from './format.js';
import { archMetadata } from './metadata.js';
import { decoderTensors, TensorList } from './tensors.js';
import { tokenizerMetadata } from './tokenizer.js';
import { DTYPES, GGUF_DTYPES, type GgufExportOptions, type SourceTensor } from './types.js';
import { writeGguf, type GgufTensorSpec } from './writer.js';

export interface GgufPlan {
  arch: string;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorSpec[];
  /** True when llama.cpp computes the same function as moekit (up to float rounding). */
  exact: boolean;
  warnings: string[];
}

/**
 * The GGUF image of a model: metadata and lazily encoded tensors. `params` are HF-named tensors in
 * PyTorch layout (a DecoderLM's `params`), `source` names the model in errors.
 */
export function planGguf(config: ModelConfig, params: ReadonlyMap<string, SourceTensor>, tokenizer: Tokenizer,
  opts: GgufExportOptions = {}, source = 'model'): GgufPlan {
  const dtype = DTYPES[opts.dtype ?? 'f32'];
  if (!dtype) throw new GgufError('Unexportable', `${source}: unknown dtype ${JSON.stringify(opts.dtype)} (${GGUF_DTYPES.join(', ')})`);
  const choice = chooseArch(config, opts, source);
  checkRopeScaling(config, choice.arch, source);
  const list = new TensorList(params, dtype.type, source);
  decoderTensors(config, choice, list);
  // W_noise of noisy top-k only scales training noise (§3); nothing else may be left over.
  list.checkAllUsed((name) => /\.mlp\.gate_noise\.weight$/.test(name));

  const metadata = new Map<string, GgufValue>([
    ['general.architecture', gv.str(choice.arch.name)],
    ['general.type', gv.str('model')],
    ['general.name', gv.str(opts.name ?? 'moekit model')],
    ['general.file_type', gv.u32(dtype.fileType)],
    ...(dtype.type === 'Q8_0' ? [['general.quantization_version', gv.u32(2)] as [string, GgufValue]] : []),
    ...archMetadata(config, choice),
    // moekit's own record of what was exported (community keys are namespaced, §5.6)
    ...(config.moe ? [
      ['moekit.router', gv.str(JSON.stringify(config.moe.router))] as [string, GgufValue],
      ['moekit.moe_layers', gv.i32s(choice.moe!.moeLayers)] as [string, GgufValue],
    ] : []),
    ['moekit.exact', gv.bool(choice.exact)],
    ...tokenizerMetadata(tokenizer, config.vocab_size, { bos: config.bos_token_id, eos: config.eos_token_id }, source),
  ]);
  return { arch: choice.arch.name, metadata, tensors: list.specs, exact: choice.exact, warnings: choice.warnings };
}

export interface GgufExportResult extends Omit<GgufPlan, 'metadata' | 'tensors'> {
  path: string;
  tensorCount: number;
}

/** Export a moekit model directory (config.json, model.safetensors, tokenizer.json) to a GGUF file. */
export function exportGguf(dir: string, out: string, opts: GgufExportOptions = {}): GgufExportResult {
  const loaded = loadModel(dir, { weights: 'auto' }); // a 16-bit checkpoint stays 16-bit until each tensor is written
  if (!loaded.tokenizerPath) {
    throw new GgufError('Unexportable', `${dir} has no tokenizer.json`, 'a GGUF file embeds the tokenizer; copy the tokenizer.json the model was trained with into the directory');
  }
  const tokenizer = Tokenizer.load(loaded.tokenizerPath);
  const plan = planGguf(loaded.config, loaded.model.params, tokenizer, { ...opts, name: opts.name ?? basename(resolve(dir)) }, dir);
  writeGguf(out, plan.metadata, plan.tensors, { onTensor: opts.onTensor });
  return { path: out, arch: plan.arch, exact: plan.exact, warnings: plan.warnings, tensorCount: plan.tensors.length };
}
