// Sharded checkpoints (interop.md §1.5): the index (weight_map: tensor → shard file) is validated, each
// shard opened once and cross-checked against it before any tensor data is read. The loader is shared
// with PyTorch .bin shards (pytorch_bin.ts), which bring their own shard reader and error class.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MoekitError } from '../../tensor/errors.js';
import { SafetensorsError } from '../errors.js';
import { requireSupported, type SafetensorsTensor } from './dtypes.js';
import { BAD_WRITER } from './header.js';
import { describe, describeDuplicate, isPlainObject, quoteName as q, scanJsonKeys, TOO_DEEP } from './json.js';
import { openSafetensors, type SafetensorsReader } from './reader.js';

export const SHARD_INDEX = 'model.safetensors.index.json';

export interface ShardedSafetensors {
  dir: string;
  /** The index's "metadata" object (total_size, total_parameters, …) as written. */
  indexMetadata: Record<string, unknown>;
  /** Distinct shard file names, sorted. */
  shards: string[];
  tensors: Map<string, SafetensorsTensor>;
}

/** Makes the error of one checkpoint format for a shard-index problem (§1.5). */
export type ShardErrorFactory = (code: 'Io' | 'InvalidIndex', message: string, hint?: string) => MoekitError;

/** A validated shard index (§1.5). */
interface ShardIndex {
  path: string;
  weightMap: Map<string, string>;
  /** The index's "metadata" object as written. */
  metadata: Record<string, unknown>;
  /** Distinct shard file names, sorted. */
  shards: string[];
}

/**
 * Read a sharded checkpoint through its index (§1.5): each shard is opened once; every weight_map entry
 * must exist in its shard and no shard may hold a tensor the index does not map to it.
 */
export function readShardedSafetensors(dir: string, indexName = SHARD_INDEX): ShardedSafetensors {
  return readShardedCheckpoint(dir, indexName, shardError, openSafetensorsShard);
}

/** A sharded safetensors checkpoint validated and kept open (§1.5): headers now, tensor data on demand. */
export function openShardedSafetensors(dir: string, indexName = SHARD_INDEX): { readers: SafetensorsShard[]; shards: string[] } {
  const { index, readers } = openShardedCheckpoint(dir, indexName, shardError, openSafetensorsShard);
  return { readers, shards: index.shards };
}

const shardError: ShardErrorFactory = (code, message, hint) => new SafetensorsError(code, message, hint);

export interface SafetensorsShard extends ShardReader {
  reader: SafetensorsReader;
}

function openSafetensorsShard(path: string): SafetensorsShard {
  const reader = openSafetensors(path);
  try {
    for (const [name, info] of reader.tensors) requireSupported(path, name, info.dtype);
  } catch (e) {
    reader.close();
    throw e;
  }
  const names = [...reader.tensors.keys()];
  return { path, names, reader, close: () => reader.close(), readAll: () => new Map(names.map((n) => [n, reader.read(n)])) };
}

/** One shard opened and validated (headers only) by a format's reader. */
export interface ShardReader {
  path: string;
  /** The tensors the shard holds. */
  names: readonly string[];
  readAll(): Map<string, SafetensorsTensor>;
  close(): void;
}

/**
 * The §1.5 loader, whatever the shard format: read the index, open each distinct shard once and
 * cross-check every shard's tensor names against the index before any data is read. The shards stay
 * open; the caller closes them.
 */
export function openShardedCheckpoint<R extends ShardReader>(dir: string, indexName: string, fail: ShardErrorFactory,
  open: (path: string) => R): { index: { metadata: Record<string, unknown>; shards: string[] }; readers: R[] } {
  const index = readShardIndex(join(dir, indexName), fail);
  const readers: R[] = [];
  try {
    for (const shard of index.shards) readers.push(openShard(index, shard, open, fail));
    checkShards(index, readers, fail);
    return { index, readers };
  } catch (e) {
    for (const reader of readers) reader.close();
    throw e;
  }
}

/** openShardedCheckpoint, then read every tensor. */
export function readShardedCheckpoint(dir: string, indexName: string, fail: ShardErrorFactory,
  open: (path: string) => ShardReader): ShardedSafetensors {
  const { index, readers } = openShardedCheckpoint(dir, indexName, fail, open);
  try {
    const tensors = new Map<string, SafetensorsTensor>();
    for (const reader of readers) for (const [name, t] of reader.readAll()) tensors.set(name, t);
    return { dir, indexMetadata: index.metadata, shards: index.shards, tensors };
  } finally {
    for (const reader of readers) reader.close();
  }
}

/** Open one listed shard with `open`; a shard that cannot be read means the checkpoint is incomplete. */
function openShard<R extends ShardReader>(index: ShardIndex, shard: string, open: (path: string) => R, fail: ShardErrorFactory): R {
  try {
    return open(join(dirname(index.path), shard));
  } catch (e) {
    if ((e as { code?: unknown }).code === 'Io') {
      throw fail('InvalidIndex', `${index.path}: shard ${q(shard)} cannot be read (${(e as Error).message})`,
        'the checkpoint is incomplete: download or copy every shard listed in the index');
    }
    throw e;
  }
}

/**
 * §1.5 cross-check: `contents[i]` lists the tensors of `index.shards[i]` (read from `path`); every
 * weight_map entry must be in its shard and every shard tensor must be mapped to that shard.
 */
function checkShards(index: ShardIndex, contents: readonly ShardReader[], fail: ShardErrorFactory): void {
  const held = contents.map((c) => new Set(c.names));
  for (const [i, { path, names }] of contents.entries()) {
    for (const name of names) {
      const listed = index.weightMap.get(name);
      if (listed !== index.shards[i]) {
        throw fail('InvalidIndex', `${path}: tensor ${q(name)} is not listed for this shard in ${index.path}`
          + (listed === undefined ? '' : ` (the index maps it to ${q(listed)})`), BAD_WRITER);
      }
    }
  }
  for (const [name, shard] of index.weightMap) {
    if (!held[index.shards.indexOf(shard)].has(name)) {
      throw fail('InvalidIndex', `${index.path}: maps tensor ${q(name)} to ${q(shard)}, but that shard has no such tensor`, BAD_WRITER);
    }
  }
}

/** Read and validate a shard index (§1.5); shard names must be plain file names next to it. */
function readShardIndex(indexPath: string, fail: ShardErrorFactory): ShardIndex {
  let raw: Uint8Array;
  try {
    raw = readFileSync(indexPath);
  } catch (e) {
    throw fail('Io', `${indexPath}: cannot open: ${(e as Error).message}`);
  }
  const bad = (what: string) => fail('InvalidIndex', `${indexPath}: ${what}`, 'the index should be {"metadata": {...}, "weight_map": {"<tensor>": "<shard file>"}}');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw bad('not valid UTF-8');
  }
  const scan = scanJsonKeys(text);
  if (scan.tooDeep) throw bad(TOO_DEEP);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw bad(`expected a JSON object, found ${describe(json)}`);
  if (scan.duplicate) throw bad(describeDuplicate(scan.duplicate));
  const { metadata = {}, weight_map: map } = json;
  if (!isPlainObject(metadata)) throw bad(`"metadata" must be an object, found ${describe(metadata)}`);
  if (!isPlainObject(map)) throw bad(`"weight_map" must be an object of tensor name → shard file, found ${describe(map)}`);
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string') throw bad(`"weight_map": ${q(name)} must be a shard file name, found ${describe(shard)}`);
    // Shards live next to the index: no paths (a hostile index must not reach other files).
    if (shard === '' || shard === '.' || shard === '..' || /[/\\\0]/.test(shard)) {
      throw bad(`"weight_map": ${q(name)} names ${q(shard)}; a shard must be a file name in the same folder`);
    }
    weightMap.set(name, shard);
  }
  return { path: indexPath, weightMap, metadata, shards: [...new Set(weightMap.values())].sort() };
}
