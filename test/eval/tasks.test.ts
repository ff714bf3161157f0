// Multiple-choice task scoring against a direct computation: log p of each choice token from the model's
// logits (log-softmax by hand), acc = argmax of the sum, acc_norm = argmax of the sum per UTF-8 byte;
// experts counted at the positions predicting choice tokens; bad lines name the file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { noGrad } from '../../src/tensor/index.js';
import { DecoderLM, parseModelConfig } from '../../src/models/index.js';
import { END_OF_TEXT, trainTokenizer } from '../../src/data/index.js';
import { choiceLoglik, encodeChoice, evaluateTasks, parseTaskLines, resolveTaskFile, TaskFileError } from '../../src/eval/tasks.js';

const texts = ['the cat sat on the mat. the dog sat on the log.', 'a cat and a dog ran to the park, and the cat sat down.'];
const tokenizer = trainTokenizer(texts, { vocabSize: 300 });

function model(moe: boolean): DecoderLM {
  return new DecoderLM(parseModelConfig({
    vocab_size: 300, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 2,
    max_position_embeddings: 64, initializer_range: 0.5,
    ...(moe ? { num_experts: 4, router: { type: 'top_p', top_p: 0.5 }, router_initializer_range: 1 } : {}),
  }), { seed: 3 });
}

/** Σ log p(choice tokens) from the logits of one forward pass over context + choice, by hand. */
function directLoglik(m: DecoderLM, context: number[], choice: number[]): number {
  const all = [...context, ...choice];
  const n = all.length - 1;
  return noGrad(() => {
    const logits = m.forward(Int32Array.from(all.slice(0, n)), 1, n).data;
    const V = m.config.vocab_size;
    let s = 0;
    for (let i = n - choice.length; i < n; i++) {
      const row = Array.from(logits.subarray(i * V, (i + 1) * V));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, z) => a + Math.exp(z - max), 0));
      s += row[all[i + 1]] - lse;
    }
    return s;
  });
}

test('choices are scored by their summed log-likelihood (acc) and per byte (acc_norm)', () => {
  const items = parseTaskLines([
    '{"task": "t1", "context": "the cat sat on the", "choices": [" mat.", " dog and the park", " log."], "label": 0}',
    '{"task": "t1", "context": "a dog ran to ", "choices": ["the park", "a"], "label": 1}',
    '',
    '{"task": "t0", "context": "", "choices": [" cat", " the cat sat"], "label": 1, "id": 7}',
  ].join('\n'), 'inline');
  assert.equal(items.length, 3);
  for (const moe of [false, true]) {
    const m = model(moe);
    const r = evaluateTasks(m, tokenizer, items, 'inline');
    assert.deepEqual(r.tasks.map((t) => t.task), ['t0', 't1']);
    const hits = { t0: [0, 0], t1: [0, 0] } as Record<string, number[]>;
    items.forEach((item, j) => {
      const ll = item.choices.map((c) => {
        const enc = encodeChoice(tokenizer, item.context, c);
        return directLoglik(m, enc.context, enc.choice);
      });
      const bytes = item.choices.map((c) => Buffer.byteLength(c));
      r.scores[j].loglik.forEach((l, i) => assert.ok(Math.abs(l - ll[i]) < 1e-4, `${l} vs ${ll[i]}`));
      assert.deepEqual(r.scores[j].bytes, bytes);
      const am = (xs: number[]) => xs.indexOf(Math.max(...xs));
      assert.equal(r.scores[j].pred, am(ll));
      assert.equal(r.scores[j].predNorm, am(ll.map((l, i) => l / bytes[i])));
      hits[item.task][0] += am(ll) === item.label ? 1 : 0;
      hits[item.task][1] += am(ll.map((l, i) => l / bytes[i])) === item.label ? 1 : 0;
    });
    for (const t of r.tasks) {
      assert.equal(t.acc, hits[t.task][0] / t.items);
      assert.equal(t.acc_norm, hits[t.task][1] / t.items);
    }
    if (!moe) {
      assert.equal(r.tasks[0].mean_k, null);
    } else {
      assert.deepEqual(r.moe_layers, [0, 1]);
      for (const t of r.tasks) {
        assert.ok(t.mean_k! >= 1 && t.mean_k! <= 4);
        assert.equal(t.mean_k_per_layer.length, 2);
      }
    }
  }
});

test('the context starts after <|endoftext|>; its trailing space moves to the choice', () => {
  const enc = encodeChoice(tokenizer, 'a dog ran to ', 'the park');
  const eot = tokenizer.specialId(END_OF_TEXT);
  assert.equal(enc.context[0], eot);
  assert.deepEqual(enc.context.slice(1), tokenizer.encode('a dog ran to', { addSpecial: false }));
  assert.deepEqual(enc.choice, tokenizer.encode(' the park', { addSpecial: false }));
});

test('experts are counted at the positions that predict the choice tokens', () => {
  const m = model(true);
  const context = [1, 2, 3, 4];
  const choice = [5, 6];
  const r = choiceLoglik(m, context, choice);
  assert.equal(r.k.length, 2);
  assert.equal(r.k[0].length, 2);
  // Same as the full forward pass's k at positions 3 and 4 (causal model: later tokens do not matter).
  const reports: import('../../src/nn/index.js').LayerReport[] = [];
  noGrad(() => m.forward(Int32Array.from([1, 2, 3, 4, 5]), 1, 5, { training: false, step: 0 }, reports));
  const kAt = (layer: number, t: number) => {
    const a = (reports.find((x) => x.layer === layer)!.routing as import('../../src/moe/index.js').MoeRouting).output.assignment;
    return Array.from(a.token).filter((x, i) => x === t && !a.dropped[i]).length;
  };
  assert.deepEqual(r.k[0], [kAt(0, 3), kAt(0, 4)]);
  assert.deepEqual(r.k[1], [kAt(1, 3), kAt(1, 4)]);
});

test('bad task lines are refused with the file and line', () => {
  const bad: [string, RegExp][] = [
    ['{"task": "x", "context": "a", "choices": ["b", "c"], "label": 2}', /f\.jsonl:2: "label" must be an integer in \[0, 2\)/],
    ['{"task": "x", "context": "a", "choices": ["b"], "label": 0}', /f\.jsonl:2: "choices" must be a list of at least 2/],
    ['{"task": "x", "context": "a", "choices": ["b", ""], "label": 0}', /f\.jsonl:2: choices\[1\]/],
    ['{"task": "x", "context": "a", "choices": ["b", "c"], "label": 0, "answer": 1}', /f\.jsonl:2: unknown key "answer"/],
    ['{"task": "x", "context": 3, "choices": ["b", "c"], "label": 0}', /f\.jsonl:2: "context" must be a string/],
    ['{"task": "", "context": "a", "choices": ["b", "c"], "label": 0}', /f\.jsonl:2: "task"/],
    ['{"task": "x", "context": "a", "choices": ["b", "c"], "label": 0', /f\.jsonl:2: not valid JSON/],
    ['[1, 2]', /f\.jsonl:2: expected a JSON object/],
  ];
  const good = '{"task": "x", "context": "a", "choices": ["b", "c"], "label": 0}';
  for (const [line, re] of bad) assert.throws(() => parseTaskLines(`${good}\n${line}\n`, 'f.jsonl'), (e: Error) => e instanceof TaskFileError && re.test(e.message));
  assert.throws(() => parseTaskLines('\n\n', 'f.jsonl'), /f\.jsonl: no task items/);
});

test('the bundled cloze file parses: three graded tasks, 4 choices each, under 200 KB', () => {
  const path = resolveTaskFile('brown-cloze');
  const text = readFileSync(path, 'utf8');
  assert.ok(Buffer.byteLength(text) < 200_000);
  const items = parseTaskLines(text, path);
  const tasks = new Map<string, number>();
  for (const it of items) {
    assert.equal(it.choices.length, 4);
    assert.equal(new Set(it.choices).size, 4);
    tasks.set(it.task, (tasks.get(it.task) ?? 0) + 1);
  }
  assert.deepEqual([...tasks.keys()].sort(), ['brown-cloze-easy', 'brown-cloze-hard', 'brown-cloze-medium']);
});
