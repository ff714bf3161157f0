// `moekit route` on the spec's §1.6 example: the command object with captured stdout, and its errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertClose } from '../helpers.js';
import { route, type RouteResult } from '../../src/cli/route.js';
import { MoekitError } from '../../src/tensor/index.js';

const dir = mkdtempSync(join(tmpdir(), 'moekit-route-'));
function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}
const example = file('example.json', [[0.5, 0.2, 0.2, 0.1], [0.1, 0.35, 0.3, 0.25], [0.28, 0.26, 0.24, 0.22]].map((r) => r.map(Math.log)));

async function runRoute(argv: string[]): Promise<RouteResult> {
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => { chunks.push(chunk); return true; }) as typeof process.stdout.write;
  try {
    await route.run(argv);
  } finally {
    process.stdout.write = write;
  }
  return JSON.parse(chunks.join('')) as RouteResult;
}

test('moekit route: §1.6 through --config, with losses and the aux-loss gradient', async () => {
  const out = await runRoute(['--logits', example, '--config', '{"type":"top_p","top_p":0.4,"compare":"gt"}', '--grad']);
  assert.deepEqual(out.assignments.map((a) => [a.token, a.expert, a.rank]), [[0, 0, 0], [1, 1, 0], [1, 2, 1], [2, 0, 0], [2, 1, 1]]);
  assertClose(out.assignments.map((a) => a.weight), [0.5, 0.35, 0.3, 0.28, 0.26]);
  assert.deepEqual(out.k_per_token, [1, 2, 2]);
  assert.deepEqual(out.dropped, [false, false, false, false, false]);
  assertClose(out.losses.load_balance, 1.831111);
  assertClose(out.losses.entropy, 1.302785);
  assertClose(out.aux_loss, 0.01 * 1.831111 + 1e-4 * 1.302785);
  assert.equal(out.grad_logits!.length, 3);
  assert.equal(out.grad_logits![0].length, 4);
  assertClose(out.grad_logits![0].reduce((s, g) => s + g, 0), 0); // softmax gradients sum to 0 per row
});

test('moekit route: flags instead of --config; static capacity drops as in §15', async () => {
  const flags = await runRoute(['--logits', example, '--router', 'top_p', '--top-p', '0.4']);
  assert.deepEqual(flags.k_per_token, [1, 2, 2]);
  assert.equal(flags.grad_logits, undefined);
  const capped = await runRoute(['--logits', example, '--config', '{"type":"top_p","capacity_mode":"static","k_ref":1}', '--capacity-factor', '1', '--train']);
  assert.deepEqual(capped.dropped, [false, false, false, true, true]);
  const hashed = await runRoute(['--logits', example, '--router', 'hash', '--vocab-size', '10', '--token-ids', '1,2,3']);
  assert.deepEqual(hashed.k_per_token, [1, 1, 1]);
});

test('moekit route: bad input is a one-line error naming the option or position', async () => {
  const cases: [string[], RegExp][] = [
    [['--logits', file('ragged.json', [[1, 2], [3]]), '--router', 'top_p'], /row 1 has 1 values, row 0 has 2 \(ragged rows\)/],
    [['--logits', file('null.json', [[1, null]]), '--router', 'top_p'], /logits\[0\]\[1\] must be a finite number, got null/],
    [['--logits', file('bad.json', '[[1, 2'), '--router', 'top_p'], /not valid JSON/],
    [['--logits', example, '--router', 'top_p', '--top-p', '1.5'], /"top_p" must be in \(0, 1\]/],
    [['--logits', example, '--router', 'top_k', '--k', '9'], /"k" must be an integer in \[1, 4\]/],
    [['--logits', example, '--router', 'foo'], /Unknown router "foo"; known: top_k, top_p/],
    [['--logits', example], /give --config or --router/],
    [['--logits', join(dir, 'missing.json'), '--router', 'top_p'], /--logits ".*missing.json" does not exist/],
    [['--logits', example, '--config', file('list.json', [1])], /expected a JSON object/],
    [['--logits', example, '--router', 'top_p', '--train', '--eval'], /not both/],
    [['--logits', example, '--router', 'hash', '--vocab-size', '10', '--token-ids', '1,x,3'], /--token-ids entry 1/],
    [['--logits', example, '--router', 'top_p', '--topp', '0.3'], /unknown option --topp \(did you mean --top-p\?\)/],
  ];
  for (const [argv, message] of cases) {
    await assert.rejects(route.run(argv), (e: Error) => e instanceof MoekitError && message.test(e.message) && !e.message.includes('\n'), argv.join(' '));
  }
});
