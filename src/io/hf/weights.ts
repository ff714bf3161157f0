// Where a checkpoint's tensors come from: one safetensors file (read lazily, tensor by tensor, so loading
// costs about one read of the file), a sharded set through its index (interop §1.5), or a PyTorch .bin
// checkpoint through the safe pickle subset (§2). Every source answers
// the same questions: which names, what shape, and the data of one tensor.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors, openShardedSafetensors, SHARD_INDEX, type SafetensorsReader, type SafetensorsTensor } from '../safetensors/index.js';
import { PYTORCH_SHARD_INDEX, readPytorchBin, readShardedPytorchBin } from '../pytorch_bin.js';
import { ModelLoadError } from '../errors.js';

export interface WeightSource {
  /** The file or index the tensors come from, for messages. */
  path: string;
  names: readonly string[];
  shapeOf(name: string): readonly number[];
  dtypeOf(name: string): string;
  read(name: string): SafetensorsTensor;
  /** Raw bytes straight into `dst`, when the source can (a single file read lazily). */
  readInto?(name: string, dst: Uint8Array): void;
  close(): void;
}

const SINGLE = 'model.safetensors';
const PYTORCH_SINGLE = 'pytorch_model.bin';

/** The checkpoint files a model directory may hold, in the order they are looked for (safetensors first). */
export const WEIGHT_FILES = [SINGLE, SHARD_INDEX, PYTORCH_SINGLE, PYTORCH_SHARD_INDEX] as const;

/** safetensors files kept open: each tensor is read when asked for (one file, or the shards of an index). */
function lazy(path: string, readers: SafetensorsReader[]): WeightSource {
  const owner = new Map<string, SafetensorsReader>();
  for (const r of readers) for (const name of r.tensors.keys()) owner.set(name, r);
  const info = (name: string) => owner.get(name)!.tensors.get(name)!;
  return {
    path,
    names: [...owner.keys()],
    shapeOf: (name) => info(name).shape,
    dtypeOf: (name) => info(name).dtype,
    read: (name) => owner.get(name)!.read(name),
    readInto: (name, dst) => owner.get(name)!.readInto(name, dst),
    close: () => readers.forEach((r) => r.close()),
  };
}

/** Tensors already in memory (PyTorch .bin, single or sharded: materialised by its reader). */
function inMemory(path: string, tensors: Map<string, SafetensorsTensor>): WeightSource {
  return {
    path,
    names: [...tensors.keys()],
    shapeOf: (name) => tensors.get(name)!.shape,
    dtypeOf: (name) => tensors.get(name)!.dtype,
    read: (name) => tensors.get(name)!,
    close: () => tensors.clear(),
  };
}

export function openWeights(dir: string): WeightSource {
  const single = join(dir, SINGLE);
  if (existsSync(single)) return lazy(single, [openSafetensors(single)]);
  if (existsSync(join(dir, SHARD_INDEX))) return lazy(join(dir, SHARD_INDEX), openShardedSafetensors(dir).readers.map((s) => s.reader));
  if (existsSync(join(dir, PYTORCH_SINGLE))) return inMemory(join(dir, PYTORCH_SINGLE), readPytorchBin(join(dir, PYTORCH_SINGLE)).tensors);
  if (existsSync(join(dir, PYTORCH_SHARD_INDEX))) return inMemory(join(dir, PYTORCH_SHARD_INDEX), readShardedPytorchBin(dir).tensors);
  throw new ModelLoadError(`${dir} has no weights: looked for ${WEIGHT_FILES.join(', ')}`,
    'pass a model directory with a safetensors or PyTorch .bin checkpoint');
}
