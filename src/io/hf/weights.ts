// Where a checkpoint's tensors come from: one safetensors file (read lazily, tensor by tensor, so loading
// costs about one read of the file), a sharded set through its index (interop §1.5). Every source answers
// the same three questions: which names, what shape, and the data of one tensor.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors, readShardedSafetensors, SHARD_INDEX, type SafetensorsTensor } from '../safetensors.js';
import { ModelLoadError } from '../errors.js';

export interface WeightSource {
  /** The file or index the tensors come from, for messages. */
  path: string;
  names: readonly string[];
  shapeOf(name: string): readonly number[];
  read(name: string): SafetensorsTensor;
  close(): void;
}

const SINGLE = 'model.safetensors';

/** The checkpoint files a model directory may hold, in the order they are looked for. */
export const WEIGHT_FILES = [SINGLE, SHARD_INDEX] as const;

export function openWeights(dir: string): WeightSource {
  const single = join(dir, SINGLE);
  if (existsSync(single)) {
    const reader = openSafetensors(single);
    return {
      path: single,
      names: [...reader.tensors.keys()],
      shapeOf: (name) => reader.tensors.get(name)!.shape,
      read: (name) => reader.read(name),
      close: () => reader.close(),
    };
  }
  if (existsSync(join(dir, SHARD_INDEX))) {
    const sharded = readShardedSafetensors(dir);
    return {
      path: join(dir, SHARD_INDEX),
      names: [...sharded.tensors.keys()],
      shapeOf: (name) => sharded.tensors.get(name)!.shape,
      read: (name) => sharded.tensors.get(name)!,
      close: () => undefined,
    };
  }
  throw new ModelLoadError(`${dir} has no weights: looked for ${WEIGHT_FILES.join(', ')}`,
    'pass a model directory with a safetensors checkpoint');
}
