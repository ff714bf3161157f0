// GGUF (interop.md §5): the public surface of the reader, the writer and the llama.cpp exporter. Files
// inside this folder import each other directly; everything else imports from here.
export {
  GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_MAX_DIMS, GGUF_MAX_NAME_BYTES, GGUF_MAX_STRING_BYTES, GGUF_VALUE_TYPES, GGUF_VERSION,
  GGML_TYPE_ID, gv,
  type GgmlType, type GgufNumberType, type GgufScalar, type GgufScalarType, type GgufTensorInfo, type GgufValue, type GgufValueTypeName,
} from './format.js';
export { openGguf, parseGguf, type GgufHeader, type GgufReader } from './reader.js';
export { serializeGguf, writeGguf, type GgufTensorSpec, type GgufWriteOptions } from './writer.js';
export { decodeTensor, encodeF32, quantizeQ8_0 } from './quantize.js';
export { GGUF_DTYPES, type GgufDtype, type GgufExportOptions, type SourceTensor } from './types.js';
export { routingFor } from './routing.js';
export { permuteRotateHalfRows, unpermuteRotateHalfRows } from './tensors.js';
export { ropeSliceToPairs, splitKvB } from './mla.js';
export { preTokenizerLabel, tokenizerMetadata, TOKEN_TYPE, type TokenizerIds } from './tokenizer.js';
export { exportGguf, planGguf, type GgufExportResult, type GgufPlan } from './export.js';
