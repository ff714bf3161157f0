// Flag parsing shared by the commands: node's parseArgs in strict mode (an unknown flag is an error),
// plus typed readers whose errors name the flag and the bad value.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { MoekitError, nearest } from '../tensor/index.js';

export class UsageError extends MoekitError {}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseFlags(command: string, argv: string[], options: Options, allowPositionals = false): Parsed {
  try {
    const r = parseArgs({ args: argv, options, strict: true, allowPositionals });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (e) {
    const msg = (e as Error).message;
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(msg);
    if (unknown) {
      const near = nearest(unknown[1].replace(/^-+/, ''), Object.keys(options));
      throw new UsageError(`moekit ${command}: unknown option ${unknown[1]}${near ? ` (did you mean --${near}?)` : ''}`, `see moekit ${command} --help`);
    }
    throw new UsageError(`moekit ${command}: ${msg.split('\n')[0]}`, `see moekit ${command} --help`);
  }
}

export function intFlag(command: string, name: string, v: unknown, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const n = Number(s);
  if (!/^-?\d+$/.test(s.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`moekit ${command}: --${name} must be an integer >= ${min}, got "${s}"`);
  }
  return n;
}

export function numberFlag(command: string, name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (String(v).trim() === '' || !Number.isFinite(n)) throw new UsageError(`moekit ${command}: --${name} must be a number, got "${String(v)}"`);
  return n;
}

export function stringFlag(v: unknown): string | undefined {
  return v === undefined ? undefined : String(v);
}
