// Typed errors of the file-format readers and writers (interop.md). Every message names the file, the
// tensor or field, and what was expected; the hint says what the user can do about it.
import { MoekitError } from '../tensor/errors.js';

/** A format error with a machine-readable code beside its message (tests and callers match on it). */
export class CodedError<C extends string> extends MoekitError {
  constructor(readonly code: C, message: string, hint?: string) {
    super(message, hint);
  }
}

/**
 * Why a safetensors file (or a sharded checkpoint) was refused. The first group mirrors the error names
 * of the reference loader safetensors-rs (interop.md §1.3) so a refusal can be matched against it; the
 * rest are moekit's own checks.
 */
export type SafetensorsErrorCode =
  | 'HeaderTooSmall' | 'HeaderTooLarge' | 'InvalidHeaderLength' | 'InvalidHeader' | 'InvalidHeaderStart'
  | 'InvalidHeaderDeserialization' | 'InvalidOffset' | 'TensorInvalidInfo' | 'ValidationOverflow'
  | 'MetadataIncompleteBuffer' | 'MisalignedSlice'
  | 'DuplicateKey' | 'UnknownDtype' | 'UnsupportedDtype' | 'TensorNotFound' | 'InvalidTensor'
  | 'InvalidMetadata' | 'InvalidIndex' | 'Io';

export class SafetensorsError extends CodedError<SafetensorsErrorCode> {}

/** Why a PyTorch `.bin` checkpoint (zip + pickle, interop.md §2) or its shard index (§1.5) was refused. */
export type PytorchBinErrorCode =
  | 'Io' | 'NotCheckpoint' | 'InvalidZip' | 'UnsupportedZip' | 'InvalidPickle' | 'UnsupportedOpcode' | 'ForbiddenGlobal'
  | 'InvalidTensor' | 'UnsupportedDtype' | 'UnsupportedByteorder' | 'InvalidIndex';

export class PytorchBinError extends CodedError<PytorchBinErrorCode> {}

/** Why a GGUF file (interop.md §5) was refused on reading, or could not be written or exported. */
export type GgufErrorCode =
  | 'BadMagic' | 'BadVersion' | 'Truncated' | 'TooLarge' | 'EmptyKey' | 'DuplicateKey' | 'BadValueType'
  | 'NestedArray' | 'BadString' | 'BadValue' | 'BadAlignment' | 'BadTensorName' | 'DuplicateTensor' | 'BadDims'
  | 'UnknownType' | 'BlockSize' | 'BadOffset' | 'TensorNotFound' | 'UnsupportedType' | 'InvalidTensor'
  | 'InvalidMetadata' | 'Unexportable' | 'Io';

export class GgufError extends CodedError<GgufErrorCode> {}

/** A model directory that cannot become a model: missing files, tensors that do not fit the config. */
export class ModelLoadError extends MoekitError {}
