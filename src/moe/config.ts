// Reading router configs: snake_case JSON objects as the spec names the options. Unknown keys are errors
// naming the nearest valid key; every value is range-checked with the option's name in the message.
import { ConfigError, nearest } from '../tensor/index.js';
import type { CapacityOptions } from './capacity.js';

export class ConfigReader {
  constructor(readonly where: string, private readonly o: Record<string, unknown>, readonly keys: readonly string[]) {
    for (const key of Object.keys(o)) {
      if (!keys.includes(key)) {
        const near = nearest(key, keys);
        throw new ConfigError(`${where}: unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}`,
          `valid keys: ${keys.join(', ')}`);
      }
    }
  }

  fail(key: string, msg: string): never {
    throw new ConfigError(`${this.where}: "${key}" ${msg}`);
  }

  raw(key: string): unknown {
    return this.o[key];
  }

  /** A number satisfying `ok` (described by `what`, e.g. "in (0, 1]"). */
  number(key: string, def: number, ok: (x: number) => boolean, what: string): number {
    const v = this.o[key] ?? def;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) this.fail(key, `must be ${what}, got ${JSON.stringify(v)}`);
    return v;
  }

  nullableNumber(key: string, def: number | null, ok: (x: number) => boolean, what: string): number | null {
    const v = this.o[key] === undefined ? def : this.o[key];
    if (v === null) return null;
    return this.number(key, NaN, ok, `${what} or null`);
  }

  /** A loss coefficient (>= 0). */
  coefficient(key: string, def: number): number {
    return this.number(key, def, (x) => x >= 0, 'a number >= 0');
  }

  integer(key: string, def: number, lo: number, hi: number): number {
    return this.number(key, def, (x) => Number.isInteger(x) && x >= lo && x <= hi, `an integer in [${lo}, ${hi}]`);
  }

  nullableInteger(key: string, def: number | null, lo: number, hi: number): number | null {
    return this.nullableNumber(key, def, (x) => Number.isInteger(x) && x >= lo && x <= hi, `an integer in [${lo}, ${hi}]`);
  }

  choice<T extends string>(key: string, def: T, options: readonly T[]): T {
    const v = this.o[key] ?? def;
    if (typeof v !== 'string' || !options.includes(v as T)) this.fail(key, `must be one of ${options.map((s) => `"${s}"`).join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }

  boolean(key: string, def: boolean): boolean {
    const v = this.o[key] ?? def;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
}

/** The capacity options of §15 as config keys (accepted by routers that can drop). */
export interface CapacityConfig {
  capacity_factor: number | null;
  eval_capacity_factor: number | null;
  capacity_mode: 'dynamic' | 'static';
  k_ref: number | null;
  min_capacity: number;
  bpr: boolean;
}

export const CAPACITY_KEYS = ['capacity_factor', 'eval_capacity_factor', 'capacity_mode', 'k_ref', 'min_capacity', 'bpr'] as const;

export function readCapacity(r: ConfigReader, numExperts: number): CapacityConfig {
  const positive = (x: number) => x > 0;
  const c: CapacityConfig = {
    capacity_factor: r.nullableNumber('capacity_factor', null, positive, 'a number > 0'),
    eval_capacity_factor: r.nullableNumber('eval_capacity_factor', null, positive, 'a number > 0'),
    capacity_mode: r.choice('capacity_mode', 'dynamic', ['dynamic', 'static'] as const),
    k_ref: r.nullableNumber('k_ref', null, (x) => x > 0 && x <= numExperts, `a number in (0, ${numExperts}]`),
    min_capacity: r.integer('min_capacity', 0, 0, Number.MAX_SAFE_INTEGER),
    bpr: r.boolean('bpr', false),
  };
  if (c.capacity_mode === 'static' && c.k_ref === null) r.fail('k_ref', 'is required when "capacity_mode" is "static"');
  return c;
}

export function capacityOptions(c: CapacityConfig): CapacityOptions {
  return {
    capacityFactor: c.capacity_factor, evalCapacityFactor: c.eval_capacity_factor, mode: c.capacity_mode,
    kRef: c.k_ref, minCapacity: c.min_capacity, bpr: c.bpr,
  };
}
