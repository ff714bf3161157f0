// tokenizer.json post-processors (interop.md §4.7): where "add BOS/EOS" lives. ByteLevel only fixes
// offsets, so for ids it is the identity; TemplateProcessing comes with the HF-model issue.
import { componentType, unsupportedComponent } from './errors.js';

export interface PostProcessor {
  /** Adds the special tokens this processor wraps a single sequence with. */
  process(ids: number[]): number[];
  toJSON(): Record<string, unknown>;
}

export function postProcessorFromJSON(json: unknown, field = 'post_processor'): PostProcessor {
  const type = componentType(json, field);
  if (type !== 'ByteLevel') throw unsupportedComponent(field, type, ['ByteLevel']);
  return new ByteLevelPostProcessor(json as Record<string, unknown>);
}

export class ByteLevelPostProcessor implements PostProcessor {
  constructor(private readonly json: Record<string, unknown> = {
    type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true,
  }) {}

  process(ids: number[]): number[] {
    return ids;
  }

  toJSON(): Record<string, unknown> {
    return { ...this.json };
  }
}
