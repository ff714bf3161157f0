// tokenizer.json added_tokens (interop.md §4.8): strings matched in the raw text before anything else
// (leftmost, longest first) and never split by BPE. `special` ones are dropped by skipSpecial decoding.
import { TokenizerError } from './errors.js';

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

export class AddedTokens {
  private readonly byContent = new Map<string, AddedToken>();
  private readonly byId = new Map<number, AddedToken>();
  private readonly regex: RegExp | null;

  constructor(readonly list: readonly AddedToken[]) {
    for (const t of list) {
      if (t.content === '') throw new TokenizerError(`added token ${t.id} has empty content`);
      this.byContent.set(t.content, t);
      this.byId.set(t.id, t);
    }
    // Alternatives sorted longest first: at a given position the regex then takes the longest match.
    const alternatives = [...this.byContent.keys()]
      .sort((a, b) => b.length - a.length)
      .map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.regex = alternatives.length > 0 ? new RegExp(alternatives.join('|'), 'gu') : null;
  }

  static fromJSON(json: unknown): AddedTokens {
    if (json === undefined || json === null) return new AddedTokens([]);
    if (!Array.isArray(json)) throw new TokenizerError('added_tokens must be an array');
    return new AddedTokens(json.map((t: Record<string, unknown>, i) => {
      const field = `added_tokens[${i}]`;
      if (typeof t?.content !== 'string' || !Number.isInteger(t.id)) {
        throw new TokenizerError(`${field} needs a string "content" and an integer "id"`);
      }
      // These options change where a token matches; ignoring them would silently encode differently.
      for (const key of ['single_word', 'lstrip', 'rstrip']) {
        if (t[key] === true) throw new TokenizerError(`${field}.${key} = true is not supported yet`);
      }
      return { id: t.id as number, content: t.content, special: t.special === true };
    }));
  }

  toJSON(): Record<string, unknown>[] {
    return this.list.map((t) => ({
      id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t.special,
    }));
  }

  get(id: number): AddedToken | undefined {
    return this.byId.get(id);
  }

  idOf(content: string): number | undefined {
    return this.byContent.get(content)?.id;
  }

  /** Calls `onText` for the text between added tokens and `onToken` for each added token, in order. */
  split(text: string, onText: (s: string) => void, onToken: (id: number) => void): void {
    if (this.regex === null) {
      onText(text);
      return;
    }
    let last = 0;
    for (const m of text.matchAll(this.regex)) {
      const start = m.index as number;
      if (start > last) onText(text.slice(last, start));
      onToken((this.byContent.get(m[0]) as AddedToken).id);
      last = start + m[0].length;
    }
    if (last < text.length) onText(text.slice(last));
  }
}
