"""Reference tokenizers and outputs for moekit's tokenizer tests (test/fixtures/tokenizers/).

Every tokenizer.json here is built and trained by HuggingFace `tokenizers` itself, in the layouts of
interop.md §4.9 (Llama-2 in both forms, Llama-3, Qwen2, plus one with legacy "a b" merges, unk/fuse_unk,
continuing_subword_prefix and end_of_word_suffix). For each, reference.json holds what `tokenizers`
returns for ~25 tricky strings: ids with and without the post-processor's specials, tokens, ids with
special tokens not parsed (encode_special_tokens), and decodes with and without skip_special_tokens.
Two directories carry a tokenizer_config.json and are loaded through transformers' AutoTokenizer, which
gives the bos/eos, add_bos/add_eos behaviour and the chat templates rendered by apply_chat_template.

Run: /tmp/tv/bin/python scripts/ref/make_tokenizer_refs.py   (tokenizers 0.23, transformers 5, jinja2)
Training is deterministic except for legacy_merges (the trainer breaks some ties with continuing_subword_prefix
in hash order): a rerun may give it other merges, with references that match them.
"""
import json
import os
import shutil

import tokenizers
import transformers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "tokenizers")

# A few KB of training text. No CJK and no emoji, so that those fall back to bytes (or unk).
CORPUS = [
    "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away into the forest.",
    "Mixture-of-experts models route every token to a few experts. The router picks the top two experts,",
    "and their outputs are mixed with the router's weights. Experts that are never picked waste memory.",
    "It's a small model, but it's ours. We're training it on a CPU; they've said it can't be done.",
    "Numbers: 1, 2, 3, 42, 1234, 2024, 3.14159, 100%. Dates like 2024-07-26 appear in logs.",
    "def add(a, b):\n    return a + b\n\nfor i in range(10):\n    print(i * 2)  # doubles\n",
    "function route(x) {\n\treturn topk(softmax(x), 2);\n}\n",
    "Café au lait, naïve résumé, Ünïcödé straße. Ελληνικά γράμματα και русский текст тоже. Ο σοφός λόγος, οι σοφοί λόγοι.",
    "Hello world! Hello there. HELLO AGAIN, world. hello, hello, hello.",
    "  Indented lines keep their spaces.\n    Deeper indentation too.\n\n\nBlank lines between paragraphs.",
    "User: what is the capital of France?\nAssistant: The capital of France is Paris.\n",
    "Tokenizers split text into pieces; byte fallback covers what the vocabulary lacks.",
] * 6 + [
    "The zebra and the zeppelin share the letter z. Zero is a number, zone a place.",
    "Whitespace    runs     and\ttabs\t\tand trailing spaces   ",
]

TRICKY = [
    "",
    " ",
    "Hello world",
    " Hello world",
    "  two leading spaces",
    "trailing space ",
    "Hello\nworld\n\n  indented\n",
    "tabs\tand\r\nCRLF\r\n",
    "whitespace    runs     here",
    "naïve café résumé straße",
    "e\u0301 decomposed vs \u00e9 composed, \u212b angstrom",
    "日本語のテキスト 中文测试 한국어",
    "emoji 😀🚀 👍🏽 family 👨\u200d👩\u200d👧\u200d👦",
    "Ελληνικά and русский текст",
    "I'm you're HE'LL they'VE it's WE'D",
    "numbers 1234567 and 3.14159 and ١٢٣",
    "code: fn(x) { return x*2; } // done",
    "\u00a0nbsp and\u2028line sep\u0085nel \ufeffbom",
    "zero\u200bwidth and a\u0000b control",
    "x" * 40,
    "▁already metaspace▁chars",
    "UPPER lower MiXeD CaSe",
    "the zebra zone",
]


def case_strings(specials):
    """TRICKY plus strings with this tokenizer's special / added tokens written inline."""
    a, b = specials[0], specials[-1]
    return TRICKY + [f"{a}starts with a special", f"ends with a special{b}", f"a {a} b{b}c", f"{a}{b}{a}", f"x {b}  y"]


def decode(tok, ids, skip_special):
    """tokenizers' decode; None where it panics (its Strip decoder on an empty token list does)."""
    try:
        return tok.decode(ids, skip_special_tokens=skip_special)
    except BaseException as e:  # pyo3 PanicException derives from BaseException
        if type(e).__name__ != "PanicException":
            raise
        return None


def byte_runs(tok):
    """Id lists whose bytes are not all valid UTF-8: the decoders' U+FFFD rules (interop.md §4.6)."""
    vocab = tok.get_vocab()
    if "<0xE6>" in vocab:  # SentencePiece byte tokens
        b = lambda x: vocab[f"<0x{x:02X}>"]
    elif "Ġ" in vocab:  # byte-level alphabet: the single-character token of each byte
        b = lambda x: vocab[bytes_to_unicode()[x]]
    else:
        return []
    a = tok.token_to_id("a") if tok.token_to_id("a") is not None else tok.token_to_id("▁a")
    return [[b(0xE6), b(0x97)], [b(0xE6), b(0x97), a], [a, b(0xFF), a], [b(0xC3), b(0xA9)], [b(0xC3)], [b(0xF0), b(0x9F), b(0x98)],
            [b(0xC3), b(0xA9), b(0xE6)], [b(0x41), b(0xA9), b(0x42)]]


def bytes_to_unicode():
    """GPT-2's byte → character table (interop.md §4.3), to name byte-level tokens."""
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for x in range(256):
        if x not in bs:
            bs.append(x)
            cs.append(256 + n)
            n += 1
    return {x: chr(c) for x, c in zip(bs, cs)}


def write_reference(name, tok, specials, extra_texts=()):
    os.makedirs(os.path.join(OUT, name), exist_ok=True)
    tok.save(os.path.join(OUT, name, "tokenizer.json"), pretty=False)
    loaded = Tokenizer.from_file(os.path.join(OUT, name, "tokenizer.json"))
    cases = []
    for text in case_strings(specials) + list(extra_texts):
        enc = loaded.encode(text)
        ids = enc.ids
        no_special = loaded.encode(text, add_special_tokens=False).ids
        loaded.encode_special_tokens = True
        plain = loaded.encode(text, add_special_tokens=False).ids
        loaded.encode_special_tokens = False
        cases.append({
            "text": text,
            "ids": ids,
            # id_to_token, not enc.tokens: for lstrip/rstrip tokens the latter holds the swallowed spaces
            "tokens": [loaded.id_to_token(i) for i in ids],
            "ids_no_special": no_special,
            "ids_specials_as_text": plain,
            "decoded": decode(loaded, ids, False),
            "decoded_skip_special": decode(loaded, ids, True),
        })
    ref = {
        "made_by": f"tokenizers {tokenizers.__version__} (scripts/ref/make_tokenizer_refs.py)",
        "vocab_size_with_added": loaded.get_vocab_size(with_added_tokens=True),
        "special_tokens": {t: loaded.token_to_id(t) for t in specials},
        "cases": cases,
        "decode_cases": [{"ids": ids, "decoded": decode(loaded, ids, False)} for ids in byte_runs(loaded)],
    }
    with open(os.path.join(OUT, name, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False, indent=1)
    return loaded


def train(model, pre_tokenizer, normalizer, vocab_size, **trainer_args):
    t = Tokenizer(model)
    t.normalizer = normalizer
    t.pre_tokenizer = pre_tokenizer
    t.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, **trainer_args))
    return json.loads(t.to_str())["model"]


# ---- Llama-2 / Mixtral: SentencePiece BPE with byte fallback (ids 0-2 specials, 3-258 bytes) -------------
def sentencepiece_model():
    trained = train(models.BPE(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
                    normalizers.NFKC(), 420)
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = 3 + b
    for token in sorted(trained["vocab"], key=trained["vocab"].get):
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m) for m in trained["merges"]]
    return vocab, merges


def llama2(vocab, merges, form):
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    if form == "prepend":  # tokenizers-era files (hub Llama-2 / Mixtral)
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    else:  # what transformers 5 writes
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    tok.add_special_tokens([AddedToken("<unk>", special=True, normalized=False), AddedToken("<s>", special=True, normalized=False),
                            AddedToken("</s>", special=True, normalized=False)])
    return tok


def metaspace_always(vocab, merges):
    """Metaspace pre-tokenizer with split and prepend_scheme always, Metaspace decoder, a Strip normalizer."""
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Strip(left=False, right=True), normalizers.Replace(Regex("[0-9]"), "#")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="always")])
    tok.add_special_tokens([AddedToken("<s>", special=True, normalized=False), AddedToken("</s>", special=True, normalized=False)])
    # A non-special, normalized added token: matched on normalized text, against its normalized content.
    tok.add_tokens([AddedToken("brown fox", normalized=True, special=False)])
    return tok


# ---- Llama-3: Split(regex with (?i:...)) + ByteLevel without regex, ignore_merges ----------------------------
LLAMA3_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def byte_level_tokenizer(regex, normalizer, vocab_size, ignore_merges, extra_words=()):
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    trained = train(models.BPE(), pre, normalizer, vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    vocab = dict(trained["vocab"])
    for w in extra_words:  # whole words with no merge path: only ignore_merges finds them
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m) for m in trained["merges"]], ignore_merges=ignore_merges))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    return tok


def llama3():
    tok = byte_level_tokenizer(LLAMA3_REGEX, None, 600, True, extra_words=["Ġzebra", "zone", "Ġzo"])
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok.add_special_tokens(specials)
    bot = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", bot)]),
    ])
    # lstrip/rstrip swallow the spaces beside the token; single_word only matches it as a whole word.
    tok.add_tokens([AddedToken("<mask>", lstrip=True, rstrip=True, special=True, normalized=False),
                    AddedToken("Expert", single_word=True, special=False, normalized=False)])
    return tok, specials + ["<mask>", "Expert"]


def qwen():
    tok = byte_level_tokenizer(QWEN_REGEX, normalizers.NFC(), 600, False)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.add_special_tokens(specials)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok, specials


# ---- Legacy "a b" merges, unk + fuse_unk, ## prefix and </w> suffix ------------------------------------------
def legacy():
    norm = normalizers.Sequence([normalizers.NFKD(), normalizers.Lowercase(), normalizers.Strip()])
    pre = pre_tokenizers.Split(Regex(r"\s+"), behavior="removed")
    trained = train(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"), pre, norm, 500,
                    special_tokens=["[UNK]", "[CLS]", "[SEP]"], continuing_subword_prefix="##", end_of_word_suffix="</w>",
                    )
    tok = Tokenizer(models.BPE(vocab=trained["vocab"], merges=[tuple(m) for m in trained["merges"]], unk_token="[UNK]",
                               fuse_unk=True, continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.normalizer = norm
    tok.pre_tokenizer = pre
    tok.decoder = decoders.Sequence([decoders.Replace("##", ""), decoders.Replace("</w>", " "), decoders.Fuse(),
                                     decoders.Strip(" ", 0, 1)])
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    tok.add_special_tokens(["[UNK]", "[CLS]", "[SEP]"])
    return tok, ["[CLS]", "[SEP]"]


def to_legacy_merges(name):
    """Rewrites the merges of a saved tokenizer.json as "a b" strings (what tokenizers < 0.20 wrote)."""
    path = os.path.join(OUT, name, "tokenizer.json")
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    assert all(" " not in a and " " not in b for a, b in j["model"]["merges"])
    j["model"]["merges"] = [f"{a} {b}" for a, b in j["model"]["merges"]]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)


# ---- Chat templates (interop.md §4.11) -----------------------------------------------------------------------
CHATML = ("{% for m in messages %}{{'<|im_start|>'+m['role']+'\\n'+m['content']+'<|im_end|>\\n'}}{% endfor %}"
          "{% if add_generation_prompt %}{{'<|im_start|>assistant\\n'}}{% endif %}")

# Mixtral style: [INST] turns, a system prompt folded into the first user turn, strict alternation.
MIXTRAL_STYLE = """{%- if messages[0]['role'] == 'system' %}
    {%- set system = messages[0]['content'] %}
    {%- set turns = messages[1:] %}
{%- else %}
    {%- set system = none %}
    {%- set turns = messages %}
{%- endif %}
{{- bos_token }}
{%- for message in turns %}
    {%- if (message['role'] == 'user') != (loop.index0 is even) %}
        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system is not none %}
            {{- '[INST] ' + system + '\\n\\n' + message['content'] | trim + ' [/INST]' }}
        {%- else %}
            {{- '[INST] ' + message['content'] | trim + ' [/INST]' }}
        {%- endif %}
    {%- else %}
        {{- ' ' + message['content'] | trim + eos_token }}
    {%- endif %}
{%- endfor %}"""

# Llama-3 style: header ids, a namespace, tools as JSON via tojson, a date that callers may pass.
LLAMA3_STYLE = """{{- bos_token }}
{%- set ns = namespace(system='') %}
{%- if messages[0]['role'] == 'system' %}
    {%- set ns.system = messages[0]['content'] | trim %}
    {%- set messages = messages[1:] %}
{%- endif %}
{%- if date_string is not defined %}{%- set date_string = '26 Jul 2024' %}{%- endif %}
{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}
{{- 'Today Date: ' + date_string + '\\n' }}
{%- if tools is not none and tools is defined %}
    {{- 'Tools:\\n' }}
    {%- for t in tools %}{{- t | tojson }}{{- '\\n' }}{%- endfor %}
{%- endif %}
{{- ns.system + '<|eot_id|>' }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}"""

CONVERSATION = [
    {"role": "system", "content": "You are terse. Answer in one line."},
    {"role": "user", "content": "  What is a mixture of experts?  "},
    {"role": "assistant", "content": "A layer that routes each token to a few expert MLPs."},
    {"role": "user", "content": "Größe? 日本語 😀"},
]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Wetter für eine Stadt — °C",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]


# ---- Single components, through tokenizers' own normalize_str / pre_tokenize_str / decode ---------------------
COMPONENT_TEXTS = ["", " ", "Hello  World ", "  ΟΔΟΣ ΚΑΛΟΣ İstanbul ẞ", "e\u0301 \u212b ﬁ ① Ｆｕｌｌ", "a\tb\nc\u00a0d\u3000e ",
                   "the-final--countdown", "▁x ▁▁y", "I'LL it's 12345 😀", "١٢٣ 123 é_x ab\u0301 's #-x - ⅷ",
                   "日本語のテキストと中文 2024年7月 [-a] \"q\" !w\n\n"]


def components():
    norms = {
        "NFC": normalizers.NFC(), "NFD": normalizers.NFD(), "NFKC": normalizers.NFKC(), "NFKD": normalizers.NFKD(),
        "Lowercase": normalizers.Lowercase(), "Strip": normalizers.Strip(), "StripLeft": normalizers.Strip(left=True, right=False),
        "Prepend": normalizers.Prepend("▁"), "ReplaceString": normalizers.Replace("  ", "_"),
        "ReplaceRegex": normalizers.Replace(Regex(r"\s+"), "$1"),
        "Sequence": normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Replace(" ", "▁")]),
    }
    pres = {"Metaspace_" + scheme + ("_split" if split else ""): pre_tokenizers.Metaspace(prepend_scheme=scheme, split=split)
            for scheme in ["always", "first", "never"] for split in [True, False]}
    pres.update({"Split_" + b + ("_invert" if inv else ""): pre_tokenizers.Split("-", behavior=b, invert=inv)
                 for b in ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"] for inv in [False, True]})
    pres["Split_regex_contiguous"] = pre_tokenizers.Split(Regex(r"\s"), behavior="contiguous")
    # Oniguruma escapes that JavaScript reads differently: Unicode \d and \w, escaped punctuation, a DeepSeek-like
    # sequence of Splits over CJK runs, digit groups and punctuation classes.
    for name, rx in {"d": r"\d+", "w": r"\w+", "class_w": r"[\w]+", "escapes": r"\'s|\#|\-x|[\-\#]|\ ",
                     "W": r"\W+", "D": r"\D+"}.items():
        pres["Split_regex_" + name] = pre_tokenizers.Split(Regex(rx), behavior="isolated")
    pres["Sequence_deepseek_like"] = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\p{N}{1,3}"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"[\u4e00-\u9fa5\u3040-\u30ff]+"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"[\!\\\"\[\]\-][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"),
                             behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    pres["ByteLevel_prefix"] = pre_tokenizers.ByteLevel(add_prefix_space=True)
    pres["ByteLevel_noregex"] = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    pres["Sequence"] = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated"),
                                                pre_tokenizers.Metaspace(prepend_scheme="first", split=True)])
    decs = {
        "Metaspace_always": decoders.Metaspace(prepend_scheme="always"), "Metaspace_never": decoders.Metaspace(prepend_scheme="never"),
        "Strip": decoders.Strip(" ", 2, 1), "Replace": decoders.Replace("▁", " "), "ByteFallback": decoders.ByteFallback(),
        "Fuse": decoders.Fuse(),
        "Sequence": decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]),
    }
    token_lists = [["▁Hello", "▁▁world", "▁"], ["  a ", " b  "], ["<0xE6>", "<0x97>", "<0xA5>", "▁x", "<0xE6>", "<0x97>", "y"],
                   ["<0xC3>", "<0xA9>", "<0xFF>", "<0x41>"], ["▁▁a▁b"], ["<0x0a>", "<0x0A>", "<0xzz>"]]
    with open(os.path.join(OUT, "components.json"), "w", encoding="utf-8") as f:
        json.dump({
            "made_by": f"tokenizers {tokenizers.__version__} (scripts/ref/make_tokenizer_refs.py)",
            "normalizers": [{"name": k, "json": json.loads(n.__getstate__()), "outputs": [n.normalize_str(t) for t in COMPONENT_TEXTS]}
                            for k, n in norms.items()],
            "pre_tokenizers": [{"name": k, "json": json.loads(p.__getstate__()),
                                "outputs": [[piece for piece, _ in p.pre_tokenize_str(t)] for t in COMPONENT_TEXTS]}
                               for k, p in pres.items()],
            "decoders": [{"name": k, "json": json.loads(d.__getstate__()), "outputs": [d.decode(t) for t in token_lists]}
                         for k, d in decs.items()],
            "texts": COMPONENT_TEXTS,
            "token_lists": token_lists,
        }, f, ensure_ascii=False, indent=1)


def hf_directory(name, tok, config, chat_cases):
    """A model directory: tokenizer.json + tokenizer_config.json, loaded back with transformers' AutoTokenizer."""
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    tok.save(os.path.join(d, "tokenizer.json"), pretty=False)
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
    hf = transformers.AutoTokenizer.from_pretrained(d)
    encodes = []
    for text in ["Hello world", " leading space", "a </s> b"]:
        encodes.append({"text": text, "ids": hf(text)["input_ids"], "ids_no_special": hf(text, add_special_tokens=False)["input_ids"]})
    chats = []
    for case in chat_cases:
        kwargs = dict(case.get("kwargs", {}))
        try:
            rendered = hf.apply_chat_template(case["messages"], tokenize=False, add_generation_prompt=case["add_generation_prompt"], **kwargs)
            chats.append({**case, "rendered": rendered, "ids": hf(rendered, add_special_tokens=False)["input_ids"]})
        except Exception as e:  # raise_exception in the template
            chats.append({**case, "error": str(e)})
    ref = {
        "made_by": f"transformers {transformers.__version__} AutoTokenizer (scripts/ref/make_tokenizer_refs.py)",
        "bos_token": hf.bos_token, "bos_token_id": hf.bos_token_id,
        "eos_token": hf.eos_token, "eos_token_id": hf.eos_token_id,
        "unk_token": hf.unk_token, "pad_token": hf.pad_token,
        "vocab_size_with_added": len(hf),
        "added_tokens": {str(i): t.content for i, t in sorted(hf.added_tokens_decoder.items())},
        "encodes": encodes,
        "chats": chats,
    }
    with open(os.path.join(d, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False, indent=1)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    vocab, merges = sentencepiece_model()
    write_reference("llama2_prepend", llama2(vocab, merges, "prepend"), ["<s>", "</s>"])
    write_reference("llama2_metaspace", llama2(vocab, merges, "metaspace"), ["<s>", "</s>"])
    write_reference("metaspace_always", metaspace_always(vocab, merges), ["<s>", "</s>"],
                    ["the brown fox", "the  brown  fox", "brown fox1", "Brown fox"])
    tok, specials = llama3()
    write_reference("llama3", tok, specials,
                    ["fill  <mask>  here", "<mask>x", " <mask>", "a\n<mask>\nb", "<mask><mask>", "an Expert_ or Expert's Expert"])
    tok, specials = qwen()
    write_reference("qwen2", tok, specials)
    tok, specials = legacy()
    write_reference("legacy_merges", tok, specials, ["ÉCOLE Ｆｕｌｌｗｉｄｔｈ ﬁne", "zzz qqq zebra", "ΟΔΟΣ ΚΑΛΟΣ İstanbul ẞ"])
    to_legacy_merges("legacy_merges")
    assert Tokenizer.from_file(os.path.join(OUT, "legacy_merges", "tokenizer.json")).encode("check legacy").ids == \
        tok.encode("check legacy").ids

    mixtral_chats = [
        {"name": "mixtral system+alternating", "messages": CONVERSATION, "add_generation_prompt": False},
        {"name": "mixtral user only", "messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": True},
        {"name": "mixtral broken alternation", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
         "add_generation_prompt": False},
    ]
    hf_directory("hf_mixtral_style", llama2(vocab, merges, "prepend"), {
        "tokenizer_class": "PreTrainedTokenizerFast",  # the class that keeps tokenizer.json as it is
        "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
        "add_bos_token": True, "add_eos_token": False,  # transformers 5 ignores both when tokenizer.json exists
        "added_tokens_decoder": {
            "0": {"content": "<unk>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True},
            "1": {"content": "<s>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True},
            "2": {"content": "</s>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True},
        },
        "model_max_length": 32768,
        "clean_up_tokenization_spaces": False,
        "chat_template": MIXTRAL_STYLE,
    }, mixtral_chats)

    tok, _ = llama3()
    eot = tok.token_to_id("<|eot_id|>")
    llama3_chats = [
        {"name": "llama3 system+tools", "messages": CONVERSATION, "add_generation_prompt": True, "kwargs": {"tools": TOOLS}},
        {"name": "llama3 date passed", "messages": CONVERSATION[1:2], "add_generation_prompt": False,
         "kwargs": {"date_string": "1 Jan 2030"}},
    ]
    hf_directory("hf_llama3_style", tok, {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
        "added_tokens_decoder": {str(eot): {"content": "<|eot_id|>", "lstrip": False, "normalized": False, "rstrip": False,
                                            "single_word": False, "special": True}},
        "chat_template": [{"name": "default", "template": LLAMA3_STYLE}, {"name": "chatml", "template": CHATML}],
    }, llama3_chats)

    tok, _ = qwen()
    hf_directory("hf_chatml", tok, {
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "add_bos_token": False, "chat_template": CHATML,
    }, [{"name": "chatml spec vector", "messages": [{"role": "user", "content": "ab"}], "add_generation_prompt": True},
        {"name": "chatml conversation", "messages": CONVERSATION, "add_generation_prompt": False}])

    components()
    for name in sorted(os.listdir(OUT)):
        if not os.path.isdir(os.path.join(OUT, name)):
            continue
        for f in sorted(os.listdir(os.path.join(OUT, name))):
            print(f"{name}/{f}: {os.path.getsize(os.path.join(OUT, name, f))} bytes")


if __name__ == "__main__":
    main()
