export { linear } from './matmul.js';
export { rmsnorm } from './norm.js';
export { embedding } from './embedding.js';
export { rope, ropeTables, type RopeTables } from './rope.js';
export { causalAttention, type AttentionDims } from './attention.js';
export { swiglu, softmax } from './activation.js';
export { add } from './elementwise.js';
export { crossEntropy, type CrossEntropyResult } from './loss.js';
export { gatherRows, groupedLinear, combineRows, customLeaf } from './moe.js';
