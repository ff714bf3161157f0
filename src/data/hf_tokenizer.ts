// A HuggingFace model directory's tokenizer (interop.md §4.10): tokenizer.json, plus what
// tokenizer_config.json, chat_template.jinja / chat_template.json and generation_config.json add:
// the BOS/EOS/UNK/PAD tokens, add_bos_token / add_eos_token (which replace the post-processor),
// added_tokens_decoder, and the chat template.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AddedToken, AddedTokens, addedTokenFromJSON } from './added_tokens.js';
import { ChatTemplate } from './chat_template.js';
import { TokenizerError } from './errors.js';
import { TemplateProcessing } from './postprocessors.js';
import { Tokenizer } from './tokenizer.js';

export interface HfTokenizer {
  tokenizer: Tokenizer;
  bosToken: string | null;
  bosTokenId: number | null;
  eosToken: string | null;
  /** Generation stops on any of these: tokenizer_config's eos_token, then generation_config's eos_token_id(s). */
  eosTokenIds: number[];
  unkToken: string | null;
  padToken: string | null;
  /** The "default" template, or null when the directory has none. */
  chatTemplate: ChatTemplate | null;
  /** Every named template (a single template is named "default"). */
  chatTemplates: ReadonlyMap<string, ChatTemplate>;
}

const CONFIG = 'tokenizer_config.json';

/** Loads the tokenizer of a HF model directory; only tokenizer.json is required. */
export function loadHfTokenizer(dir: string): HfTokenizer {
  const base = Tokenizer.load(join(dir, 'tokenizer.json'));
  const config = readJsonObject(join(dir, CONFIG)) ?? {};
  const where = join(dir, CONFIG);

  const added = withConfigTokens(base, config.added_tokens_decoder, where);
  const tokenOf = (key: string): string | null => specialTokenField(config[key], `${where}: ${key}`);
  const idOf = (key: string, token: string | null): number | null => {
    if (token === null) return null;
    const id = added.idOf(token) ?? base.model.vocab.get(token);
    if (id === undefined) throw new TokenizerError(`${where}: ${key} ${JSON.stringify(token)} is not in the vocabulary or the added tokens`);
    return id;
  };
  const bosToken = tokenOf('bos_token');
  const eosToken = tokenOf('eos_token');
  const bosTokenId = idOf('bos_token', bosToken);
  const eosTokenId = idOf('eos_token', eosToken);

  // transformers' update_post_processor: present flags rebuild the template as [bos] $A [eos]; an absent one is false.
  let postProcessor = base.postProcessor;
  if (config.add_bos_token !== undefined || config.add_eos_token !== undefined) {
    const flag = (key: string, token: string | null, id: number | null): { token: string; id: number } | null => {
      const v = config[key] ?? false;
      if (typeof v !== 'boolean') throw new TokenizerError(`${where}: ${key} must be true or false, got ${JSON.stringify(v)}`);
      if (v && (token === null || id === null)) throw new TokenizerError(`${where}: ${key} is true but ${key.slice(4, 7)}_token is not set`);
      return v ? { token: token as string, id: id as number } : null;
    };
    postProcessor = TemplateProcessing.wrap(flag('add_bos_token', bosToken, bosTokenId), flag('add_eos_token', eosToken, eosTokenId));
  }

  const tokenizer = new Tokenizer({
    model: base.model, normalizer: base.normalizer, preTokenizer: base.preTokenizer, decoder: base.decoder, postProcessor, added,
  });
  const eosTokenIds = eosTokenId === null ? [] : [eosTokenId];
  for (const id of generationEosIds(dir)) if (!eosTokenIds.includes(id)) eosTokenIds.push(id);
  const chatTemplates = loadChatTemplates(dir, config);
  return {
    tokenizer,
    bosToken,
    bosTokenId,
    eosToken,
    eosTokenIds,
    unkToken: tokenOf('unk_token'),
    padToken: tokenOf('pad_token'),
    chatTemplate: chatTemplates.get('default') ?? null,
    chatTemplates,
  };
}

function readJsonObject(path: string): Record<string, unknown> | null {
  if (!existsSync(path)) return null;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TokenizerError(`cannot read ${path}: ${(e as Error).message}`, 'it must be a JSON object');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TokenizerError(`${path} must hold a JSON object`);
  return json as Record<string, unknown>;
}

/** bos_token & co.: a string, an AddedToken object {"content": ...}, or null. */
function specialTokenField(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  const content = (v as { content?: unknown }).content;
  if (typeof content === 'string') return content;
  throw new TokenizerError(`${field} must be a string or {"content": ...}, got ${JSON.stringify(v)}`);
}

/** tokenizer.json's added tokens plus those of added_tokens_decoder {"<id>": AddedToken} it lacks. */
function withConfigTokens(base: Tokenizer, json: unknown, where: string): AddedTokens {
  if (json === undefined || json === null) return base.added;
  if (typeof json !== 'object' || Array.isArray(json)) throw new TokenizerError(`${where}: added_tokens_decoder must be an object {"<id>": token}`);
  const extra: AddedToken[] = [];
  for (const [key, entry] of Object.entries(json as Record<string, unknown>)) {
    const field = `${where}: added_tokens_decoder["${key}"]`;
    const t = addedTokenFromJSON(entry as Record<string, unknown> | null, /^\d+$/.test(key) ? Number(key) : NaN, field);
    const existing = base.added.get(t.id);
    if (existing !== undefined) {
      if (existing.content !== t.content) {
        throw new TokenizerError(`${field} is ${JSON.stringify(t.content)} but tokenizer.json has ${JSON.stringify(existing.content)} at id ${t.id}`);
      }
      continue;
    }
    const vocabToken = base.model.tokens[t.id];
    if (vocabToken !== undefined && vocabToken !== t.content) {
      throw new TokenizerError(`${field} is ${JSON.stringify(t.content)} but model.vocab has ${JSON.stringify(vocabToken)} at id ${t.id}`);
    }
    extra.push(t);
  }
  return extra.length === 0 ? base.added : new AddedTokens([...base.added.list, ...extra]);
}

/** generation_config.json's eos_token_id (an id or a list of ids, interop.md §3.8); [] without the file. */
function generationEosIds(dir: string): number[] {
  const path = join(dir, 'generation_config.json');
  const v = readJsonObject(path)?.eos_token_id;
  if (v === undefined || v === null) return [];
  const ids = Array.isArray(v) ? v : [v];
  if (!ids.every((id) => Number.isInteger(id) && id >= 0)) throw new TokenizerError(`${path}: eos_token_id must be an id or a list of ids, got ${JSON.stringify(v)}`);
  return ids as number[];
}

/**
 * Chat templates by name. Precedence (interop.md §4.10, as gguf's vocab.py): tokenizer_config.json's
 * chat_template ▸ chat_template.jinja ▸ chat_template.json. A list [{name, template}] keeps every name.
 */
function loadChatTemplates(dir: string, config: Record<string, unknown>): Map<string, ChatTemplate> {
  if (config.chat_template !== undefined && config.chat_template !== null) {
    return templatesFromJSON(config.chat_template, `${join(dir, CONFIG)}: chat_template`);
  }
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return new Map([['default', new ChatTemplate(readFileSync(jinja, 'utf8'), jinja)]]);
  const jsonPath = join(dir, 'chat_template.json');
  const json = readJsonObject(jsonPath);
  if (json?.chat_template !== undefined && json.chat_template !== null) return templatesFromJSON(json.chat_template, `${jsonPath}: chat_template`);
  return new Map();
}

function templatesFromJSON(v: unknown, source: string): Map<string, ChatTemplate> {
  if (typeof v === 'string') return new Map([['default', new ChatTemplate(v, source)]]);
  if (!Array.isArray(v)) throw new TokenizerError(`${source} must be a string or a list of {"name", "template"}`);
  return new Map(v.map((entry: { name?: unknown; template?: unknown } | null, i) => {
    if (typeof entry?.name !== 'string' || typeof entry.template !== 'string') {
      throw new TokenizerError(`${source}[${i}] must be {"name": string, "template": string}`);
    }
    return [entry.name, new ChatTemplate(entry.template, `${source}["${entry.name}"]`)];
  }));
}
