// `convert --to hf`: a model directory in HuggingFace layout (interop §3.9). A checkpoint that came from
// an HF architecture is written back in that architecture (its config.json kept, tensor names mapped
// back); a moekit model with an exact HF equivalent is written as it — renormalised top-k in every layer
// with nothing else → `mixtral`, dense → `llama` — and anything else keeps moekit's own `moekit_moe`
// config, which moekit reads and transformers does not.
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { expertsPerLayer, toHfConfig, type DecoderLM, type ModelConfig } from '../../models/index.js';
import { fsyncDir, writeFileAtomic } from '../atomic.js';
import { ModelLoadError } from '../errors.js';
import { fromFloat32, writeSafetensors, type SafetensorsTensor } from '../safetensors/index.js';
import { beyondF16, F16_MAX, FILE_DTYPE, f32Values } from '../weight_values.js';
import type { Tensor } from '../../tensor/index.js';
import { mixtral } from './mixtral.js';
import { llama, moekitMoe } from './moekit.js';
import { NameMapper } from './names.js';
import type { HfArchitecture } from './types.js';

export type ExportDtype = 'F32' | 'F16' | 'BF16';

const TORCH_DTYPE: Record<ExportDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** Is this moekit model exactly a Mixtral (§3.4): top-k renormalised, every layer MoE with the same E, plain attention? */
function isMixtral(c: ModelConfig): boolean {
  const m = c.moe;
  if (!m || m.router.type !== 'top_k' || !m.router.renormalize || m.router.capacity_factor !== null) return false;
  const per = expertsPerLayer(c);
  return per.every((e) => e === per[0] && e > 0) && m.shared_expert_intermediate_size === 0 && m.residual === null &&
    !c.attention_bias && !c.qkv_bias && c.qk_norm === 'none' && !c.mla && c.intermediate_size === m.moe_intermediate_size;
}

function plainLlama(c: ModelConfig): boolean {
  return !c.moe && !c.qkv_bias && c.qk_norm === 'none' && !c.mla;
}

/** The architecture and config.json a model is exported with. */
export function hfTarget(model: DecoderLM, source: { architecture: HfArchitecture; rawConfig: Record<string, unknown> } | null):
  { architecture: HfArchitecture; config: Record<string, unknown> } {
  const c = model.config;
  if (source && source.architecture !== llama && source.architecture !== moekitMoe) {
    return { architecture: source.architecture, config: { ...source.rawConfig } };
  }
  const base = toHfConfig(c);
  const hfOnly = Object.fromEntries(Object.entries(base).filter(([k]) => !MOEKIT_ONLY.has(k)));
  if (isMixtral(c)) {
    return { architecture: mixtral, config: { ...hfOnly, ...mixtral.exportConfig!(c), model_type: 'mixtral', architectures: [mixtral.architecture] } };
  }
  if (plainLlama(c)) return { architecture: llama, config: { ...hfOnly, model_type: 'llama', architectures: [llama.architecture] } };
  return { architecture: moekitMoe, config: base };
}

/** Keys of moekit's config that have no meaning in a llama/mixtral config.json. */
const MOEKIT_ONLY = new Set(['qkv_bias', 'qk_norm', 'mla', 'num_experts', 'moe_intermediate_size', 'router', 'expert_frequency',
  'first_k_dense_replace', 'moe_layers', 'router_aux_loss_reduction', 'residual', 'expert_dropout', 'router_initializer_range',
  'shared_expert_intermediate_size', 'shared_expert_gate']);

export interface ExportResult {
  dir: string;
  architecture: string;
  tensors: number;
  bytes: number;
}

/** A parameter as a safetensors tensor: a 16-bit weight already in `dtype` as it is held (no copy). */
function exportTensor(name: string, p: Tensor, dtype: ExportDtype): SafetensorsTensor {
  if (p.half && dtype === FILE_DTYPE[p.half.dtype]) return { name, dtype, shape: p.shape, data: p.half.bits };
  const values = f32Values(p);
  const worst = dtype === 'F16' ? beyondF16(values) : 0;
  if (worst > 0) {
    throw new ModelLoadError(`tensor ${name}: a value of magnitude ${worst} is beyond float16's range (±${F16_MAX}); an F16 export would make it infinite`,
      'export as BF16 (the range of f32) or F32');
  }
  return fromFloat32(name, p.shape, values, dtype);
}

/**
 * Write `model` as an HF directory at `outDir` (created; refused if it exists): model.safetensors,
 * config.json, and the source's tokenizer files and generation_config.json. Written into a temporary
 * folder renamed into place, so a failure leaves nothing half-written.
 */
export function exportHf(model: DecoderLM, outDir: string, opts: {
  dtype?: ExportDtype; sourceDir?: string; source?: { architecture: HfArchitecture; rawConfig: Record<string, unknown> } | null;
}): ExportResult {
  const dtype = opts.dtype ?? 'F32';
  if (existsSync(outDir)) throw new ModelLoadError(`${outDir} already exists`, 'choose a new --out directory');
  const { architecture, config } = hfTarget(model, opts.source ?? null);
  const names = new NameMapper(architecture.names);
  const tensors: SafetensorsTensor[] = [];
  for (const [name, p] of model.params) tensors.push(exportTensor(names.toHf(name), p, dtype));
  const tmp = join(dirname(outDir), `.${basename(outDir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    writeSafetensors(join(tmp, 'model.safetensors'), tensors, { format: 'pt' });
    const written = { ...config, torch_dtype: TORCH_DTYPE[dtype], dtype: TORCH_DTYPE[dtype] };
    writeFileAtomic(join(tmp, 'config.json'), JSON.stringify(written, null, 2) + '\n');
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'generation_config.json']) {
      if (opts.sourceDir && existsSync(join(opts.sourceDir, f))) copyFileSync(join(opts.sourceDir, f), join(tmp, f));
    }
    renameSync(tmp, outDir);
    fsyncDir(dirname(outDir));
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const bytes = tensors.reduce((s, t) => s + t.data.byteLength, 0);
  return { dir: outDir, architecture: architecture.modelType, tensors: tensors.length, bytes };
}
