// `moekit route`: run one router on a matrix of router logits and print the assignment, the aux losses
// and (--grad) their gradient — the routing spec's worked examples, reproducible from the shell.
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, Rng, ShapeError } from '../tensor/index.js';
import { createRouter, kPerToken, parseRouterConfig, routedExperts, ROUTERS, weightedTotal, type RouterConfig, type RouterType } from '../moe/index.js';
import type { Command } from './command.js';
import { intFlag, numberFlag, parseFlags, stringFlag, UsageError } from './args.js';

export interface RouteOptions {
  seed: number;
  training: boolean;
  tokenIds?: Int32Array;
  grad: boolean;
}

export interface RouteResult {
  assignments: { token: number; expert: number; weight: number; rank: number }[];
  k_per_token: number[];
  /** Per assignment: dropped by capacity. */
  dropped: boolean[];
  /** Unscaled aux-loss values by name, and aux_loss = Σ coefficient · value. */
  losses: Record<string, number>;
  aux_loss: number;
  /** d aux_loss / d logits [T][E] (with --grad). */
  grad_logits?: number[][];
}

/** Checks a parsed JSON value is a non-empty [T][E] matrix of finite numbers; names the bad position. */
export function logitsMatrix(json: unknown, source: string): { logits: Float32Array; T: number; E: number } {
  if (!Array.isArray(json) || json.length === 0 || !Array.isArray(json[0]) || json[0].length === 0) {
    throw new ShapeError(`${source}: expected router logits as a non-empty JSON array of rows, [[z_0, …, z_E-1], …]`);
  }
  const T = json.length;
  const E = (json[0] as unknown[]).length;
  const logits = new Float32Array(T * E);
  json.forEach((row: unknown, t) => {
    if (!Array.isArray(row)) throw new ShapeError(`${source}: row ${t} is not an array`);
    if (row.length !== E) throw new ShapeError(`${source}: row ${t} has ${row.length} values, row 0 has ${E} (ragged rows)`);
    row.forEach((z: unknown, e) => {
      if (typeof z !== 'number' || !Number.isFinite(z)) throw new ShapeError(`${source}: logits[${t}][${e}] must be a finite number, got ${JSON.stringify(z)}`);
      logits[t * E + e] = z;
    });
  });
  return { logits, T, E };
}

/** The layer's expert count for E logit columns: DeepSeek's shared experts come on top of the routed ones. */
function configForColumns(raw: unknown, E: number): RouterConfig {
  const config = parseRouterConfig(raw, E);
  const shared = E - routedExperts(config, E);
  return shared === 0 ? config : parseRouterConfig(raw, E + shared);
}

/** Routes logits [T, E] with the router config `raw` (JSON) and collects everything `moekit route` prints. */
export function routeLogits(logits: Float32Array, T: number, E: number, raw: unknown, options: RouteOptions): RouteResult {
  const router = createRouter(configForColumns(raw, E));
  const ctx = { training: options.training, rng: new Rng(options.seed), tokenIds: options.tokenIds };
  const out = router.route(logits, T, E, ctx);
  const losses = router.auxLosses(out, logits, T, E, ctx);
  const total = weightedTotal(losses, T, E);
  const a = out.assignment;
  return {
    assignments: Array.from(a.token, (token, i) => ({ token, expert: a.expert[i], weight: float32Json(a.weight[i]), rank: a.rank[i] })),
    k_per_token: Array.from(kPerToken(a, T)),
    dropped: Array.from(a.dropped, (d) => d === 1),
    losses: Object.fromEntries(losses.map((l) => [l.name, l.value])),
    aux_loss: total.value,
    ...(options.grad ? { grad_logits: Array.from({ length: T }, (_, t) => Array.from(total.grad.subarray(t * E, (t + 1) * E), float32Json)) } : {}),
  };
}

/** The shortest decimal that reads back as the same float32 (0.35, not 0.3500000238418579). */
function float32Json(x: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const short = Number(x.toPrecision(digits));
    if (Math.fround(short) === x) return short;
  }
  return x;
}

function readJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${source}: not valid JSON (${(e as Error).message})`);
  }
}

/** --config: inline JSON (starts with "{") or a file path; a JSON object. */
function configSource(value: string): Record<string, unknown> {
  const inline = value.trim().startsWith('{');
  if (!inline && !existsSync(value)) throw new UsageError(`moekit route: --config "${value}" is neither inline JSON nor an existing file`);
  const json = inline ? readJson(value, '--config') : readJson(readFileSync(value, 'utf8'), value);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`${inline ? '--config' : value}: expected a JSON object like {"type": "top_p"}`);
  return { ...json };
}

/** The logits text: --logits FILE, or stdin when it is piped. */
function logitsText(path: string | undefined): string {
  if (path === undefined) {
    if (process.stdin.isTTY) throw new UsageError('moekit route: give --logits FILE or pipe the logits JSON on stdin');
    return readFileSync(0, 'utf8');
  }
  if (!existsSync(path)) throw new UsageError(`moekit route: --logits "${path}" does not exist`);
  return readFileSync(path, 'utf8');
}

function tokenIdsFlag(value: string | undefined): Int32Array | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',');
  parts.forEach((s, i) => {
    if (!/^\s*\d+\s*$/.test(s)) throw new UsageError(`moekit route: --token-ids entry ${i} must be a non-negative integer, got "${s}"`);
  });
  return Int32Array.from(parts, Number);
}

/** --capacity-factor sets the factor of the mode being run (routers without an eval factor: the one factor). */
function capacityKey(type: string, training: boolean): string {
  const keys: readonly string[] = Object.hasOwn(ROUTERS, type) ? ROUTERS[type as RouterType].keys : [];
  return !training && keys.includes('eval_capacity_factor') ? 'eval_capacity_factor' : 'capacity_factor';
}

export const route: Command = {
  name: 'route',
  summary: 'run a router on a matrix of logits; prints the assignment, experts per token and aux losses as JSON',
  usage: `moekit route [--logits FILE] (--config JSON|FILE | --router TYPE [options]) [--train|--eval] [--grad]

Reads router logits as JSON [[z_0, …, z_E-1], …] (one row per token) from --logits FILE or stdin, runs
one router and prints JSON: {"assignments": [{"token","expert","weight","rank"}], "k_per_token": […],
"dropped": […], "losses": {name: value}, "aux_loss": Σ coefficient·value, "grad_logits": [[…]] (--grad)}.

  --logits FILE         the logits matrix (default: stdin)
  --config JSON|FILE    router config, e.g. '{"type":"top_p","top_p":0.4,"compare":"gt"}'
  --router TYPE         top_k, top_p, switch, gshard, noisy_top_k, hash, base, expert_choice,
                        dense_to_sparse, deepseek (flags below override --config keys)
  --top-p P             top_p threshold            --k K          experts per token
  --capacity-factor CF  capacity factor of the mode being run (default: dropless)
  --train | --eval      training or inference semantics (default: --eval)
  --seed N              seed of the router's random draws (default 0)
  --token-ids 1,2,3     input token ids (hash router); with no table, --vocab-size draws a random one
  --grad                also print d aux_loss / d logits`,
  async run(argv) {
    const { values } = parseFlags('route', argv, {
      logits: { type: 'string' }, config: { type: 'string' }, router: { type: 'string' }, 'top-p': { type: 'string' },
      k: { type: 'string' }, 'capacity-factor': { type: 'string' }, train: { type: 'boolean' }, eval: { type: 'boolean' },
      seed: { type: 'string' }, 'token-ids': { type: 'string' }, 'vocab-size': { type: 'string' }, grad: { type: 'boolean' },
    });
    if (values.train && values.eval) throw new UsageError('moekit route: give --train or --eval, not both');
    const training = Boolean(values.train);
    const config = values.config !== undefined ? configSource(String(values.config)) : {};
    if (values.router !== undefined) config.type = String(values.router);
    if (config.type === undefined) throw new UsageError('moekit route: give --config or --router', 'e.g. --router top_p --top-p 0.4');
    const flagged: [string, number | undefined][] = [
      ['top_p', numberFlag('route', 'top-p', values['top-p'])],
      ['k', intFlag('route', 'k', values.k)],
      [capacityKey(String(config.type), training), numberFlag('route', 'capacity-factor', values['capacity-factor'])],
      ['vocab_size', intFlag('route', 'vocab-size', values['vocab-size'])],
    ];
    for (const [key, v] of flagged) if (v !== undefined) config[key] = v;

    const path = stringFlag(values.logits);
    const source = path ?? 'stdin';
    const { logits, T, E } = logitsMatrix(readJson(logitsText(path), source), source);
    const result = routeLogits(logits, T, E, config, {
      seed: intFlag('route', 'seed', values.seed, 0) ?? 0,
      training,
      tokenIds: tokenIdsFlag(stringFlag(values['token-ids'])),
      grad: Boolean(values.grad),
    });
    process.stdout.write(JSON.stringify(result) + '\n');
  },
};
