// Public API of the MoE routing core: routers, assignments, capacity, aux losses, statistics.
export { AssignmentBuilder, kPerToken, expertCounts, expertOffsets, effectiveWeights, pairCount, validateAssignment,
  type Assignment, type ExpertGroups } from './assignment.js';
export { applyCapacity, expertCapacity, droppedFraction, DROPLESS, type CapacityOptions } from './capacity.js';
export { loadBalanceLoss, gshardAuxLoss, deepseekExpertBalanceLoss, deepseekDeviceBalanceLoss, sigmoidSequenceBalanceLoss, entropyLoss, zLoss,
  cvSquared, importanceLoss, noisyLoadLoss, noisyLoadProbabilities, denseToSparseBalanceLoss, weightedTotal, reduceLayers, poolLayers,
  LOSS_COEFFICIENTS, type LossValue, type LayerReduction } from './losses.js';
export { routingStats, coefficientOfVariation, meanEntropy, activatedParamsPerToken, concatGroups, type RoutingStats, type RoutedGroup } from './stats.js';
export { residualCombineForward, residualCombineBackward, residualCombine } from './residual.js';
export { RoutingError, softmaxRows } from './math.js';
export { createRouter, parseRouterConfig, routedExperts, sharedExperts, ROUTERS, ROUTER_TYPES, type Router, type RouterConfig,
  type RouterType, type AuxLoss, type RouterContext, type RouterOutput, type RandomSource, type TopKConfig, type TopPConfig,
  type SwitchConfig, type GShardConfig, type NoisyTopKConfig, type HashConfig, type BaseConfig, type ExpertChoiceConfig,
  type DenseToSparseConfig, type DeepSeekConfig, type GroupLimitedConfig } from './routers/index.js';
export { jitterFactors } from './routers/switch.js';
export { randomHashTable, balancedHashTable, clusteredHashTable, dispersedHashTable, kMeans } from './hash_tables.js';
export { balancedAssignment } from './routers/base.js';
export { gumbelTemperature } from './routers/dense_to_sparse.js';
export { MoELayer, type MoeLayerOptions, type MoeRouting } from './layer.js';
export { GroupedExperts } from './experts.js';
export { applyPooledAux, pooledAux, type DeferredAux } from './pooled.js';
