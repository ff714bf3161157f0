// loadHfTokenizer + chat templates. Oracles: transformers 5 AutoTokenizer / apply_chat_template outputs
// (test/fixtures/tokenizers/hf_*, scripts/ref/make_tokenizer_refs.py), the ChatML test vector of
// interop.md §4.11, and the rules of §4.10 (add_bos/add_eos, template precedence) applied by hand to
// HF's own ids.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type ChatMessage, applyChatTemplate } from '../../src/data/chat_template.js';
import { TokenizerError } from '../../src/data/errors.js';
import { loadHfTokenizer } from '../../src/data/hf_tokenizer.js';
import { FIXTURES } from './tokenizer_fixtures.js';

interface HfReference {
  bos_token: string | null;
  bos_token_id: number | null;
  eos_token: string | null;
  eos_token_id: number | null;
  unk_token: string | null;
  pad_token: string | null;
  vocab_size_with_added: number;
  encodes: { text: string; ids: number[]; ids_no_special: number[] }[];
  chats: {
    name: string;
    messages: ChatMessage[];
    add_generation_prompt: boolean;
    kwargs?: Record<string, unknown>;
    rendered?: string;
    ids?: number[];
    error?: string;
  }[];
}

const readRef = (dir: string): HfReference => JSON.parse(readFileSync(join(FIXTURES, dir, 'reference.json'), 'utf8')) as HfReference;

for (const dir of ['hf_mixtral_style', 'hf_llama3_style', 'hf_chatml']) {
  test(`hf tokenizer ${dir}: tokens, ids and rendered chats match transformers`, () => {
    const hf = loadHfTokenizer(join(FIXTURES, dir));
    const ref = readRef(dir);
    assert.equal(hf.bosToken, ref.bos_token);
    assert.equal(hf.bosTokenId, ref.bos_token_id);
    assert.equal(hf.eosToken, ref.eos_token);
    assert.deepEqual(hf.eosTokenIds, ref.eos_token_id === null ? [] : [ref.eos_token_id]);
    assert.equal(hf.unkToken, ref.unk_token);
    assert.equal(hf.padToken, ref.pad_token);
    assert.equal(hf.tokenizer.vocabSize, ref.vocab_size_with_added);
    for (const e of ref.encodes) {
      assert.deepEqual(hf.tokenizer.encode(e.text), e.ids, e.text);
      assert.deepEqual(hf.tokenizer.encode(e.text, { addSpecial: false }), e.ids_no_special, e.text);
    }
    assert.ok(hf.chatTemplate !== null);
    for (const c of ref.chats) {
      const { tools, ...variables } = c.kwargs ?? {};
      const render = (): string => applyChatTemplate(hf.chatTemplate!, c.messages, {
        addGenerationPrompt: c.add_generation_prompt, bosToken: hf.bosToken, eosToken: hf.eosToken, tools: tools as unknown[] | undefined, variables,
      });
      if (c.error !== undefined) {
        assert.throws(render, (e: unknown) => e instanceof TokenizerError && e.message.includes(c.error!) &&
          e.message.includes(join(FIXTURES, dir, 'tokenizer_config.json')), c.name);
        continue;
      }
      const rendered = render();
      assert.equal(rendered, c.rendered, c.name);
      assert.deepEqual(hf.tokenizer.encode(rendered, { addSpecial: false }), c.ids, c.name);
    }
  });
}

test('chat template: the ChatML test vector of interop.md §4.11', () => {
  const chatml = "{% for m in messages %}{{'<|im_start|>'+m['role']+'\\n'+m['content']+'<|im_end|>\\n'}}{% endfor %}" +
    "{% if add_generation_prompt %}{{'<|im_start|>assistant\\n'}}{% endif %}";
  assert.equal(applyChatTemplate(chatml, [{ role: 'user', content: 'ab' }], { addGenerationPrompt: true }),
    '<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(applyChatTemplate(chatml, [{ role: 'user', content: 'ab' }]), '<|im_start|>user\nab<|im_end|>\n');
});

test('chat template: tojson writes Python json.dumps(ensure_ascii=False) and undefined variables are empty', () => {
  // Hand-written: json.dumps({"a": "é", "b": [1, 2.5, None], "c": {"d": True}}, ensure_ascii=False)
  assert.equal(applyChatTemplate('{{ x | tojson }}|{{ nothing }}|{% if nothing %}yes{% else %}no{% endif %}', [], {
    variables: { x: { a: 'é', b: [1, 2.5, null], c: { d: true } } },
  }), '{"a": "é", "b": [1, 2.5, null], "c": {"d": true}}||no');
});

const scratch: string[] = [];
after(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A scratch model directory holding a fixture's tokenizer.json and the given extra files. */
function scratchDir(fixture: string, files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'moekit-hf-tok-'));
  scratch.push(dir);
  copyFileSync(join(FIXTURES, fixture, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

test('hf tokenizer: add_bos_token / add_eos_token replace the post-processor (interop.md §4.10)', () => {
  const base = readRef('hf_mixtral_style').encodes; // HF ids for tokenizer.json's own template <s> $A
  const withFlags = (flags: Record<string, unknown>) =>
    loadHfTokenizer(scratchDir('hf_mixtral_style', { 'tokenizer_config.json': { bos_token: '<s>', eos_token: '</s>', ...flags } })).tokenizer;
  const eosOnly = withFlags({ add_bos_token: false, add_eos_token: true });
  const both = withFlags({ add_bos_token: true, add_eos_token: true });
  const none = withFlags({ add_eos_token: false }); // an absent flag counts as false, as in transformers
  for (const e of base) {
    assert.deepEqual(eosOnly.encode(e.text), [...e.ids_no_special, 2], e.text);
    assert.deepEqual(both.encode(e.text), [1, ...e.ids_no_special, 2], e.text);
    assert.deepEqual(none.encode(e.text), e.ids_no_special, e.text);
    assert.deepEqual(both.encode(e.text, { addSpecial: false }), e.ids_no_special, e.text);
  }
  assert.throws(() => withFlags({ bos_token: null, add_bos_token: true }), (e: unknown) =>
    e instanceof TokenizerError && /tokenizer_config\.json: add_bos_token is true but bos_token is not set/.test(e.message));
});

test('hf tokenizer: added_tokens_decoder adds tokens tokenizer.json lacks; generation_config adds stop ids', () => {
  const ref = readRef('hf_chatml');
  const dir = scratchDir('hf_chatml', {
    'tokenizer_config.json': {
      eos_token: '<|im_end|>',
      added_tokens_decoder: {
        '602': { content: '<|im_end|>', special: true },
        '603': { content: '<tool_call>', lstrip: false, rstrip: false, normalized: false, single_word: false, special: false },
        '604': { content: '<|think|>', special: true },
      },
    },
    'generation_config.json': { eos_token_id: [600, 602] },
  });
  const hf = loadHfTokenizer(dir);
  assert.equal(hf.tokenizer.vocabSize, ref.vocab_size_with_added + 2);
  assert.deepEqual(hf.eosTokenIds, [602, 600]);
  const hello = ref.encodes[0]; // "Hello world"
  const ids = hf.tokenizer.encode(`<tool_call>${hello.text}<|think|>`);
  assert.deepEqual(ids, [603, ...hello.ids_no_special, 604]);
  assert.equal(hf.tokenizer.decode(ids), `<tool_call>${hello.text}<|think|>`);
  assert.equal(hf.tokenizer.decode(ids, { skipSpecial: true }), `<tool_call>${hello.text}`); // 603 is not special
  assert.deepEqual(hf.tokenizer.encode('<|think|>', { parseSpecial: false }).includes(604), false);
  assert.equal(hf.chatTemplate, null);
});

test('hf tokenizer: chat template precedence tokenizer_config ▸ chat_template.jinja ▸ chat_template.json, "default" of a list', () => {
  const files = {
    'tokenizer_config.json': { chat_template: 'config' },
    'chat_template.jinja': 'jinja',
    'chat_template.json': { chat_template: 'json' },
  };
  const render = (f: Record<string, unknown>): string | null => loadHfTokenizer(scratchDir('hf_chatml', f)).chatTemplate?.render([]) ?? null;
  assert.equal(render(files), 'config');
  assert.equal(render({ ...files, 'tokenizer_config.json': {} }), 'jinja');
  assert.equal(render({ 'chat_template.json': { chat_template: 'json' } }), 'json');
  assert.equal(render({ 'chat_template.json': { chat_template: [{ name: 'rag', template: 'r' }, { name: 'default', template: 'd' }] } }), 'd');
  assert.equal(render({}), null);
  const hf = loadHfTokenizer(scratchDir('hf_chatml', { 'tokenizer_config.json': { chat_template: [{ name: 'tool_use', template: 't' }] } }));
  assert.equal(hf.chatTemplate, null);
  assert.equal(hf.chatTemplates.get('tool_use')?.render([]), 't');
});

test('hf tokenizer: bad input fails with a TokenizerError naming the file and the field', () => {
  const fails = (files: Record<string, unknown>, message: RegExp): void => {
    const dir = scratchDir('hf_chatml', files);
    assert.throws(() => loadHfTokenizer(dir), (e: unknown) => e instanceof TokenizerError && message.test(e.message), message.source);
  };
  fails({ 'chat_template.jinja': '{% for m in messages %}{{ m.content }}' }, /chat_template\.jinja: the chat template does not parse/);
  fails({ 'tokenizer_config.json': { chat_template: '{% if %}' } }, /tokenizer_config\.json: chat_template: the chat template does not parse/);
  fails({ 'tokenizer_config.json': { chat_template: [{ name: 'default' }] } }, /tokenizer_config\.json: chat_template\[0\] must be \{"name": string, "template": string\}/);
  fails({ 'tokenizer_config.json': '{"eos_token": ' }, /cannot read .*tokenizer_config\.json/);
  fails({ 'tokenizer_config.json': { eos_token: '<|nope|>' } }, /tokenizer_config\.json: eos_token "<\|nope\|>" is not in the vocabulary/);
  fails({ 'tokenizer_config.json': { bos_token: 7 } }, /tokenizer_config\.json: bos_token must be a string or \{"content": \.\.\.\}/);
  fails({ 'tokenizer_config.json': { added_tokens_decoder: { '602': { content: '<|other|>', special: true } } } },
    /added_tokens_decoder\["602"\] is "<\|other\|>" but tokenizer\.json has "<\|im_end\|>" at id 602/);
  fails({ 'tokenizer_config.json': { added_tokens_decoder: { x: { content: 'x' } } } }, /added_tokens_decoder\["x"\] needs a string "content" and an integer "id"/);
  fails({ 'generation_config.json': { eos_token_id: 'two' } }, /generation_config\.json: eos_token_id must be an id or a list of ids/);
  const noTokenizer = mkdtempSync(join(tmpdir(), 'moekit-hf-tok-'));
  scratch.push(noTokenizer);
  assert.throws(() => loadHfTokenizer(noTokenizer), (e: unknown) => e instanceof TokenizerError && /cannot read .*tokenizer\.json/.test(e.message));
});
