// The router registry: a discriminated union of configs keyed by `type`, one line per router in ROUTERS,
// and an exhaustive switch in createRouter. Adding a router = one file + one line in each.
import { ConfigError, nearest } from '../../tensor/index.js';
import { capacityOptions, ConfigReader } from '../config.js';
import { checkLogits } from '../math.js';
import { base, type BaseConfig } from './base.js';
import { deepseek, type DeepSeekConfig } from './deepseek.js';
import { denseToSparse, type DenseToSparseConfig } from './dense_to_sparse.js';
import { expertChoice, type ExpertChoiceConfig } from './expert_choice.js';
import { groupLimited, type GroupLimitedConfig } from './group_limited.js';
import { gshard, type GShardConfig } from './gshard.js';
import { hash, type HashConfig } from './hash.js';
import { noisyTopK, type NoisyTopKConfig } from './noisy_top_k.js';
import { switchRouter, type SwitchConfig } from './switch.js';
import { topK, type TopKConfig } from './top_k.js';
import { topP, type TopPConfig } from './top_p.js';
import type { AuxLoss, RouterContext, RouterModule, RouterOutput } from './types.js';

export type RouterConfig = TopKConfig | TopPConfig | SwitchConfig | GShardConfig | NoisyTopKConfig | HashConfig
  | BaseConfig | ExpertChoiceConfig | DenseToSparseConfig | DeepSeekConfig | GroupLimitedConfig;
export type RouterType = RouterConfig['type'];

/** Every router, by config `type`. */
export const ROUTERS: { [K in RouterType]: RouterModule<Extract<RouterConfig, { type: K }>> } = {
  top_k: topK,
  top_p: topP,
  switch: switchRouter,
  gshard,
  noisy_top_k: noisyTopK,
  hash,
  base,
  expert_choice: expertChoice,
  dense_to_sparse: denseToSparse,
  deepseek,
  group_limited: groupLimited,
};

export const ROUTER_TYPES = Object.keys(ROUTERS) as RouterType[];

function unknownRouter(type: string): never {
  const near = nearest(type, ROUTER_TYPES);
  throw new ConfigError(`Unknown router "${type}"; known: ${ROUTER_TYPES.join(', ')}`, near ? `did you mean "${near}"?` : undefined);
}

/**
 * Validates a router config (JSON object with snake_case keys as the spec names them) for a layer of
 * `numExperts` experts (shared ones included) and fills the defaults.
 */
export function parseRouterConfig(json: unknown, numExperts: number, where = 'router config'): RouterConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`${where}: expected a JSON object like {"type": "top_p", "top_p": 0.4}`);
  if (!Number.isInteger(numExperts) || numExperts < 1) throw new ConfigError(`${where}: the number of experts must be a positive integer, got ${numExperts}`);
  const o = json as Record<string, unknown>;
  if (typeof o.type !== 'string') throw new ConfigError(`${where}: missing "type" (one of ${ROUTER_TYPES.join(', ')})`);
  if (!Object.hasOwn(ROUTERS, o.type)) unknownRouter(o.type);
  const module = ROUTERS[o.type as RouterType] as RouterModule<RouterConfig>;
  return module.parse(new ConfigReader(`${where} (${o.type})`, o, ['type', ...module.keys]), numExperts);
}

/** Always-active shared experts of a layer (DeepSeekMoE §13, DeepSeek-V2/V3); 0 for other routers. */
export function sharedExperts(config: RouterConfig): number {
  return config.type === 'deepseek' || config.type === 'group_limited' ? config.shared_experts : 0;
}

/** Columns of the router logits for a layer of numExperts experts (DeepSeek: routed experts only). */
export function routedExperts(config: RouterConfig, numExperts: number): number {
  return numExperts - sharedExperts(config);
}

/** A configured router: route() checks the logits and applies the config's capacity (ctx.capacity wins). */
export interface Router {
  config: RouterConfig;
  route(logits: Float32Array, T: number, E: number, ctx: RouterContext): RouterOutput;
  /** The layer's aux losses (unscaled values, coefficients, d value/d logits). */
  auxLosses(out: RouterOutput, logits: Float32Array, T: number, E: number, ctx: RouterContext): AuxLoss[];
}

function bind<C extends RouterConfig>(module: RouterModule<C>, config: C): Router {
  const capacity = 'capacity_mode' in config ? capacityOptions(config) : undefined;
  return {
    config,
    route(logits, T, E, ctx) {
      checkLogits(logits, T, E);
      return module.route(logits, T, E, config, { ...ctx, capacity: ctx.capacity ?? capacity });
    },
    auxLosses: (out, logits, T, E, ctx) => module.auxLosses(out, logits, T, E, config, ctx),
  };
}

export function createRouter(config: RouterConfig): Router {
  switch (config.type) {
    case 'top_k': return bind(topK, config);
    case 'top_p': return bind(topP, config);
    case 'switch': return bind(switchRouter, config);
    case 'gshard': return bind(gshard, config);
    case 'noisy_top_k': return bind(noisyTopK, config);
    case 'hash': return bind(hash, config);
    case 'base': return bind(base, config);
    case 'expert_choice': return bind(expertChoice, config);
    case 'dense_to_sparse': return bind(denseToSparse, config);
    case 'deepseek': return bind(deepseek, config);
    case 'group_limited': return bind(groupLimited, config);
    default: return unknownRouter((config satisfies never as { type: string }).type);
  }
}

export type { AuxLoss, RouterContext, RouterOutput, RandomSource } from './types.js';
export type { TopKConfig, TopPConfig, SwitchConfig, GShardConfig, NoisyTopKConfig, HashConfig, BaseConfig,
  ExpertChoiceConfig, DenseToSparseConfig, DeepSeekConfig, GroupLimitedConfig };
