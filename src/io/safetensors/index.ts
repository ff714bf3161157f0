// safetensors (interop.md §1): the public surface of the reader, the writer and the sharded-checkpoint
// loader. Files inside this folder import each other directly; everything else imports from here.
export {
  elemBytes, fromFloat32, makeTensor, toFloat32, viewOf, type Dtype, type SafetensorsData, type SafetensorsTensor,
} from './dtypes.js';
export { MAX_JSON_DEPTH, quoteName, scanJsonKeys, type JsonKeyScan } from './json.js';
export { MAX_HEADER_BYTES, type SafetensorsHeader, type TensorInfo } from './header.js';
export { openSafetensors, parseSafetensors, readSafetensors, type SafetensorsFile, type SafetensorsReader } from './reader.js';
export { serializeSafetensors, writeSafetensors } from './writer.js';
export {
  openShardedCheckpoint, openShardedSafetensors, readShardedCheckpoint, readShardedSafetensors, SHARD_INDEX,
  type SafetensorsShard, type ShardedSafetensors, type ShardErrorFactory, type ShardReader,
} from './shards.js';
