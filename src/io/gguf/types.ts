// What the GGUF exporter (export.ts) takes: the dtypes it writes (§5.3), its options, the source
// tensors, and the error it refuses a model with.
import type { Tensor } from '../../tensor/index.js';
import { GgufError } from '../errors.js';
import type { GgmlType } from './format.js';

export type GgufDtype = 'f32' | 'f16' | 'bf16' | 'q8_0';
export const GGUF_DTYPES: readonly GgufDtype[] = ['f32', 'f16', 'bf16', 'q8_0'];

/** ggml type and `general.file_type` (§5.3) of each export dtype. */
export const DTYPES: Readonly<Record<GgufDtype, { type: GgmlType; fileType: number }>> = {
  f32: { type: 'F32', fileType: 0 }, f16: { type: 'F16', fileType: 1 }, q8_0: { type: 'Q8_0', fileType: 7 }, bf16: { type: 'BF16', fileType: 32 },
};

/** A named tensor in PyTorch layout (row-major, shape as HF writes it): f32, or a 16-bit inference weight. */
export type SourceTensor = Pick<Tensor, 'shape' | 'size' | 'half' | 'data'>;

export interface GgufExportOptions {
  dtype?: GgufDtype;
  /**
   * Export routers llama.cpp cannot reproduce (Top-P and other variable-k routers, token-dropping eval
   * capacity) as llama's renormalised top-k anyway; outputs then differ from moekit's. Each difference is
   * a warning.
   */
  approximate?: boolean;
  /** Experts per token of an approximate export (default: the router's k; Top-P: max_k, else 2). */
  approximateK?: number;
  /** `general.name` (default: the model directory's name). */
  name?: string;
  onTensor?(index: number, count: number, name: string): void;
}

/** The model cannot become a llama.cpp GGUF file (or not exactly): `what` says why. */
export function unexportable(source: string, what: string, hint?: string): GgufError {
  return new GgufError('Unexportable', `${source}: ${what}`, hint);
}
