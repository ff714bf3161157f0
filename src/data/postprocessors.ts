// tokenizer.json post-processors (interop.md §4.7): where "add BOS/EOS" lives. ByteLevel only fixes
// offsets, so for ids it is the identity; TemplateProcessing wraps the sequence(s) in special tokens.
import { TokenizerError, componentType, unsupportedComponent } from './errors.js';

export interface PostProcessor {
  /** Adds the special tokens this processor wraps a sequence (or a pair `a`, `b`) with. */
  process(a: number[], b?: number[]): number[];
  toJSON(): Record<string, unknown>;
}

const SUPPORTED = ['TemplateProcessing', 'ByteLevel', 'Sequence'];

export function postProcessorFromJSON(json: unknown, field = 'post_processor'): PostProcessor {
  const type = componentType(json, field);
  const o = json as Record<string, unknown>;
  switch (type) {
    case 'ByteLevel':
      return new ByteLevelPostProcessor(o);
    case 'TemplateProcessing':
      return TemplateProcessing.fromJSON(o, field);
    case 'Sequence':
      if (!Array.isArray(o.processors)) throw new TokenizerError(`${field}.processors must be an array`);
      return new SequencePostProcessor(o.processors.map((p, i) => postProcessorFromJSON(p, `${field}.processors[${i}]`)));
    default:
      throw unsupportedComponent(field, type, SUPPORTED);
  }
}

export class ByteLevelPostProcessor implements PostProcessor {
  constructor(private readonly json: Record<string, unknown> = {
    type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true,
  }) {}

  process(a: number[], b?: number[]): number[] {
    return b ? [...a, ...b] : a;
  }

  toJSON(): Record<string, unknown> {
    return { ...this.json };
  }
}

/** One template piece: the input sequence A or B, or the ids of a named special token. */
export type TemplatePiece = { sequence: 'A' | 'B' } | { special: string };

/** `<s> $A` style templates: HF's TemplateProcessing{single, pair, special_tokens}. */
export class TemplateProcessing implements PostProcessor {
  constructor(
    readonly single: readonly TemplatePiece[],
    readonly pair: readonly TemplatePiece[],
    /** Special token name → its ids (usually one). */
    readonly specialTokens: ReadonlyMap<string, readonly number[]>,
    private readonly json?: Record<string, unknown>,
  ) {
    for (const piece of [...single, ...pair]) {
      if ('special' in piece && !specialTokens.has(piece.special)) {
        throw new TokenizerError(`post_processor template uses special token ${JSON.stringify(piece.special)}, which special_tokens lacks`);
      }
    }
  }

  /** The template `bos $A eos` of transformers' update_post_processor (tokenizer_config add_bos/eos_token). */
  static wrap(bos: { token: string; id: number } | null, eos: { token: string; id: number } | null): TemplateProcessing {
    const around = (seq: 'A' | 'B'): TemplatePiece[] => [
      ...(bos ? [{ special: bos.token }] : []), { sequence: seq }, ...(eos ? [{ special: eos.token }] : []),
    ];
    const specials = new Map<string, number[]>();
    if (bos) specials.set(bos.token, [bos.id]);
    if (eos) specials.set(eos.token, [eos.id]);
    return new TemplateProcessing(around('A'), [...around('A'), ...around('B')], specials);
  }

  static fromJSON(o: Record<string, unknown>, field: string): TemplateProcessing {
    const specials = new Map<string, number[]>();
    const st = o.special_tokens ?? {};
    if (typeof st !== 'object' || st === null) throw new TokenizerError(`${field}.special_tokens must be an object`);
    for (const [name, v] of Object.entries(st)) {
      const ids = (v as { ids?: unknown })?.ids;
      if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id) && id >= 0)) {
        throw new TokenizerError(`${field}.special_tokens[${JSON.stringify(name)}].ids must be an array of token ids`);
      }
      specials.set(name, ids as number[]);
    }
    const pieces = (key: 'single' | 'pair'): TemplatePiece[] => {
      const list = o[key] ?? [];
      if (!Array.isArray(list)) throw new TokenizerError(`${field}.${key} must be an array of pieces`);
      return list.map((p: Record<string, { id?: unknown }> | null, i) => {
        const where = `${field}.${key}[${i}]`;
        if (p?.SpecialToken && typeof p.SpecialToken.id === 'string') return { special: p.SpecialToken.id };
        if (p?.Sequence && (p.Sequence.id === 'A' || p.Sequence.id === 'B')) return { sequence: p.Sequence.id };
        throw new TokenizerError(`${where} must be {"SpecialToken": {"id": ...}} or {"Sequence": {"id": "A"|"B"}}, got ${JSON.stringify(p)}`);
      });
    };
    return new TemplateProcessing(pieces('single'), pieces('pair'), specials, o);
  }

  process(a: number[], b?: number[]): number[] {
    // concat, not push(...ids): a spread of a long document's ids overflows the call stack.
    let out: number[] = [];
    for (const piece of b ? this.pair : this.single) {
      if ('special' in piece) out = out.concat(this.specialTokens.get(piece.special) as readonly number[]);
      else out = out.concat(piece.sequence === 'A' ? a : b ?? []);
    }
    return out;
  }

  toJSON(): Record<string, unknown> {
    if (this.json) return { ...this.json };
    const piece = (p: TemplatePiece): Record<string, unknown> => 'special' in p
      ? { SpecialToken: { id: p.special, type_id: 0 } }
      : { Sequence: { id: p.sequence, type_id: p.sequence === 'A' ? 0 : 1 } };
    const specialTokens: Record<string, unknown> = {};
    for (const [name, ids] of this.specialTokens) specialTokens[name] = { id: name, ids, tokens: ids.map(() => name) };
    return { type: 'TemplateProcessing', single: this.single.map(piece), pair: this.pair.map(piece), special_tokens: specialTokens };
  }
}

export class SequencePostProcessor implements PostProcessor {
  constructor(readonly steps: readonly PostProcessor[]) {}

  process(a: number[], b?: number[]): number[] {
    // ByteLevel steps leave ids alone; the first other step sees the pair, later ones its result.
    const [first, ...rest] = this.steps.filter((s) => !(s instanceof ByteLevelPostProcessor));
    let ids = first ? first.process(a, b) : b ? [...a, ...b] : a;
    for (const step of rest) ids = step.process(ids);
    return ids;
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Sequence', processors: this.steps.map((s) => s.toJSON()) };
  }
}
