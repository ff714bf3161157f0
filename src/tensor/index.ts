export { Tensor, numel, emptyPooled } from './tensor.js';
export { Graph, withGraph, noGrad, needsGrad, isRecording, activeGraph, output, scratch, record } from './graph.js';
export { Rng, type RngState } from './rng.js';
export { acquire, acquireZeroed, release, clearPool, pooledMegabytes } from './pool.js';
export { MoekitError, ShapeError, ConfigError, shapeStr, editDistance, nearest } from './errors.js';
