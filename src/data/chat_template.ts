// Chat templates (interop.md §4.11): Jinja2 sources from tokenizer_config.json / chat_template.jinja,
// rendered with @huggingface/jinja, which already provides what transformers' sandbox adds
// (raise_exception, strftime_now, tojson with ensure_ascii=False and Python's ", " / ": " separators,
// trim_blocks + lstrip_blocks). The rendered string already holds BOS, so callers tokenize it with
// addSpecial: false.
import { Template } from '@huggingface/jinja';
import { TokenizerError } from './errors.js';

export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** End with the assistant's header so the model writes the reply. */
  addGenerationPrompt?: boolean;
  bosToken?: string | null;
  eosToken?: string | null;
  /** Tool schemas (JSON objects); transformers passes None when there are none. */
  tools?: unknown[] | null;
  documents?: unknown[] | null;
  /** Further template variables (e.g. enable_thinking, date_string), as transformers' **kwargs. */
  variables?: Record<string, unknown>;
}

export class ChatTemplate {
  private readonly template: Template;

  /** `source` names where the template came from (file and key) in errors. */
  constructor(readonly text: string, readonly source: string) {
    try {
      this.template = new Template(text);
    } catch (e) {
      throw new TokenizerError(`${source}: the chat template does not parse: ${(e as Error).message}`,
        'fix the Jinja2 syntax of the template (interop.md §4.11)');
    }
  }

  render(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    try {
      return this.template.render({
        ...opts.variables,
        messages,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        bos_token: opts.bosToken ?? '',
        eos_token: opts.eosToken ?? '',
        tools: opts.tools ?? null,
        documents: opts.documents ?? null,
      });
    } catch (e) {
      // raise_exception('...') from the template lands here too: its message is the template's own.
      throw new TokenizerError(`${this.source}: the chat template failed: ${(e as Error).message}`,
        'check the messages against what the template accepts (roles, alternation)');
    }
  }
}

/** Renders `template` (a ChatTemplate, or Jinja source from the caller) for `messages`. */
export function applyChatTemplate(template: ChatTemplate | string, messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
  const t = typeof template === 'string' ? new ChatTemplate(template, 'chat template') : template;
  return t.render(messages, opts);
}
