export { ParamBuilder, stackedParam, type ParamMap, type Init, type MatrixDtype } from './builder.js';
export { Linear } from './linear.js';
export { Embedding } from './embedding.js';
export { RMSNorm } from './rmsnorm.js';
export { SwiGLUMLP } from './mlp.js';
export { SelfAttention, type AttentionShape, type TokenLayout } from './attention.js';
export { MultiHeadLatentAttention, mlaSoftmaxScale, type MlaShape } from './mla.js';
export type { FeedForward, FfnContext, LayerReport } from './ffn.js';
export { KVCache, attendCached, type CacheLayerWidths, type CachedAttentionShape } from './kv_cache.js';
