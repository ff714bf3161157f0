// A tokenizer.json as GGUF tokenizer keys (interop.md §5.8). moekit's tokenizers are byte-level BPE, which
// llama.cpp calls `gpt2`: the token strings (byte-level alphabet, §4.3), their types, and the merges as
// "a b". llama.cpp does not store the pre-tokenizer regex; it picks a built-in one by the label in
// `tokenizer.ggml.pre`, so a tokenizer exports only if its pre-tokenizer equals one of those built-ins.
import { END_OF_TEXT, type Tokenizer } from '../../data/index.js';
import { gv, type GgufValue } from './format.js';
import { unexportable } from './types.js';

/** llama.cpp's token types (llama_token_type / gguf-py TokenType). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/**
 * tokenizer.json pre-tokenizers llama.cpp reproduces, by its `tokenizer.ggml.pre` label. `gpt-2` selects
 * llama.cpp's GPT-2 regex ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+),
 * the one ByteLevel(use_regex) applies, without a prefix space. More labels (llama-bpe, qwen2, …) go here
 * with the Split + ByteLevel sequence that matches their regex.
 */
const PRE_TOKENIZER_LABELS: readonly { label: string; matches(json: Record<string, unknown>): boolean }[] = [
  { label: 'gpt-2', matches: (j) => j.type === 'ByteLevel' && j.add_prefix_space === false && j.use_regex !== false },
];

/** The `tokenizer.ggml.pre` label whose regex is this tokenizer's pre-tokenizer, or an error saying why none is. */
export function preTokenizerLabel(tokenizer: Tokenizer, source: string): string {
  const json = tokenizer.preTokenizer?.toJSON() ?? null;
  const found = json && PRE_TOKENIZER_LABELS.find((p) => p.matches(json));
  if (!found) {
    throw unexportable(source, `pre_tokenizer ${JSON.stringify(json)} has no llama.cpp equivalent`,
      `llama.cpp selects its pre-tokenizer regex by label; moekit exports ${PRE_TOKENIZER_LABELS.map((p) => `${p.label} (ByteLevel, add_prefix_space false)`).join(', ')}`);
  }
  return found.label;
}

export interface TokenizerIds {
  /** bos_token_id / eos_token_id of config.json (null: take <|endoftext|> if the tokenizer has it). */
  bos: number | null;
  eos: number | null;
}

/**
 * The `tokenizer.*` keys for a vocabulary of `vocabSize` ids (the embedding's rows). Ids the tokenizer
 * lacks become `[PAD<i>]` typed UNUSED (§5.8); a tokenizer larger than the embedding is refused.
 */
export function tokenizerMetadata(tokenizer: Tokenizer, vocabSize: number, ids: TokenizerIds, source: string): [string, GgufValue][] {
  if (tokenizer.vocabSize > vocabSize) {
    throw unexportable(source, `the tokenizer has ${tokenizer.vocabSize} ids but the model's vocab_size is ${vocabSize}`,
      'the embedding needs one row per token id');
  }
  const pre = preTokenizerLabel(tokenizer, source);
  const decoder = tokenizer.decoder?.toJSON().type;
  if (decoder !== 'ByteLevel') throw unexportable(source, `decoder ${JSON.stringify(decoder ?? null)} is not ByteLevel; llama.cpp's gpt2 vocabulary decodes byte-level`);
  const options = tokenizer.model.options;
  if (options.ignoreMerges) throw unexportable(source, 'model.ignore_merges = true has no llama.cpp equivalent with the gpt-2 pre-tokenizer');
  if (options.unkToken) throw unexportable(source, `model.unk_token ${JSON.stringify(options.unkToken)}: byte-level BPE in llama.cpp has no unknown token`);
  if (options.byteFallback) throw unexportable(source, 'model.byte_fallback = true is SentencePiece-style BPE (llama.cpp\'s `llama` vocabulary), which the exporter does not write yet');
  if (tokenizer.normalizer) {
    throw unexportable(source, `normalizer ${JSON.stringify(tokenizer.normalizer.toJSON().type)}: llama.cpp's gpt2 vocabulary normalizes nothing`);
  }
  const wrap = specialsAdded(tokenizer, source);

  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < vocabSize; id++) {
    const added = tokenizer.added.get(id);
    const token = tokenizer.idToToken(id);
    tokens.push(token ?? `[PAD${id}]`);
    types.push(added ? (added.special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined) : token === undefined ? TOKEN_TYPE.unused : TOKEN_TYPE.normal);
  }
  const merges = tokenizer.model.merges.map(([a, b], rank) => {
    // "a b" is split at the space, so a space inside a part would be misread (byte-level tokens use Ġ).
    if (a.includes(' ') || b.includes(' ')) throw unexportable(source, `model.merges[${rank}] ${JSON.stringify([a, b])} has a space inside a token`);
    return `${a} ${b}`;
  });
  const eot = tokenizer.added.idOf(END_OF_TEXT) ?? null;
  const bos = wrap.bos ?? ids.bos ?? eot;
  const eos = wrap.eos ?? ids.eos ?? eot;
  for (const [name, id] of [['bos_token_id', bos], ['eos_token_id', eos]] as const) {
    if (id !== null && id >= vocabSize) throw unexportable(source, `${name} ${id} is outside the vocabulary (${vocabSize} ids)`);
  }
  return [
    ['tokenizer.ggml.model', gv.str('gpt2')],
    ['tokenizer.ggml.pre', gv.str(pre)],
    ['tokenizer.ggml.tokens', gv.strings(tokens)],
    ['tokenizer.ggml.token_type', gv.i32s(types)],
    ['tokenizer.ggml.merges', gv.strings(merges)],
    ...(bos === null ? [] : [['tokenizer.ggml.bos_token_id', gv.u32(bos)] as [string, GgufValue]]),
    ...(eos === null ? [] : [['tokenizer.ggml.eos_token_id', gv.u32(eos)] as [string, GgufValue]]),
    // llama.cpp adds BOS/EOS exactly when the tokenizer's post-processor does
    ['tokenizer.ggml.add_bos_token', gv.bool(wrap.bos !== null)],
    ['tokenizer.ggml.add_eos_token', gv.bool(wrap.eos !== null)],
  ];
}

/**
 * What the post-processor wraps a sequence with, found by encoding a probe with and without it: at most
 * one token in front (llama.cpp's add_bos) and one behind (add_eos). Anything else (two tokens, a pair
 * template's separators inside) has no llama.cpp key.
 */
function specialsAdded(tokenizer: Tokenizer, source: string): { bos: number | null; eos: number | null } {
  const plain = tokenizer.encode('a', { addSpecial: false });
  const full = tokenizer.encode('a');
  const at = full.findIndex((_, i) => plain.every((id, j) => full[i + j] === id));
  const before = at < 0 ? full : full.slice(0, at);
  const after = at < 0 ? [] : full.slice(at + plain.length);
  if (at < 0 || before.length > 1 || after.length > 1) {
    throw unexportable(source, `the post-processor turns ${JSON.stringify(plain)} into ${JSON.stringify(full)}; llama.cpp can only add one BOS and one EOS token`);
  }
  return { bos: before[0] ?? null, eos: after[0] ?? null };
}
