export { Tensor, numel, emptyPooled, type HalfDtype, type HalfStorage } from './tensor.js';
export { Graph, withGraph, noGrad, needsGrad, isRecording, activeGraph, output, scratch, record } from './graph.js';
export { Rng, type RngState } from './rng.js';
export { acquire, acquireZeroed, release, clearPool, pooledMegabytes } from './pool.js';
export { MoekitError, ShapeError, ConfigError, DtypeError, shapeStr, editDistance, nearest } from './errors.js';
