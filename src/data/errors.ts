// Typed errors of the data layer. Each names the file (and line) or the tokenizer.json field at fault
// and carries a hint, so the CLI can print one line (see src/tensor/errors.ts).
import { MoekitError } from '../tensor/errors.js';

/** Bad or unusable training data: missing/empty files, malformed JSONL, too little text. */
export class DataError extends MoekitError {}

/** A tokenizer.json that moekit cannot read, or a tokenizer used outside its vocabulary. */
export class TokenizerError extends MoekitError {}

/** A tokenizer.json component (`field`.type) that moekit does not implement (yet). */
export function unsupportedComponent(field: string, type: unknown, supported: readonly string[]): TokenizerError {
  return new TokenizerError(
    `${field}.type ${JSON.stringify(type)} is not supported; supported: ${supported.join(', ')}`,
    'moekit reads BPE tokenizer.json files of the GPT-2, Llama, Mixtral, Qwen and OLMoE families (interop.md §4)',
  );
}

/** The `type` of a tokenizer.json component, checking that the component is an object. */
export function componentType(json: unknown, field: string): string {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new TokenizerError(`${field} must be an object with a "type"`);
  }
  const type = (json as { type?: unknown }).type;
  if (typeof type !== 'string') throw new TokenizerError(`${field}.type is missing`);
  return type;
}

/** A boolean field of a tokenizer.json component; `fallback` when absent or null. */
export function boolField(o: Record<string, unknown>, key: string, fallback: boolean, field: string): boolean {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new TokenizerError(`${field}.${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A required string field of a tokenizer.json component. */
export function stringField(o: Record<string, unknown>, key: string, field: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new TokenizerError(`${field}.${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}
