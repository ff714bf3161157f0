// selectColumns / concatColumns: values by hand, gradients against central finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concatColumns, selectColumns } from '../../src/ops/index.js';
import { ShapeError, Tensor, noGrad, withGraph } from '../../src/tensor/index.js';
import { TestRng, assertClose, randn } from '../helpers.js';

test('selectColumns picks, repeats and drops columns; concatColumns joins rows side by side', () => {
  const x = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual(Array.from(selectColumns(x, Int32Array.of(2, 0, 2)).data), [3, 1, 3, 6, 4, 6]);
  const y = concatColumns([x, Tensor.from([7, 8], [2, 1])]);
  assert.deepEqual(y.shape, [2, 4]);
  assert.deepEqual(Array.from(y.data), [1, 2, 3, 7, 4, 5, 6, 8]);
  assert.throws(() => selectColumns(x, Int32Array.of(3)), (e: unknown) => e instanceof ShapeError && /column 3 \(entry 0\) is outside the 3 columns of \[2, 3\]/.test(e.message));
  assert.throws(() => concatColumns([x, Tensor.from([1, 2, 3], [3, 1])]), ShapeError);
});

test('gradients of select ∘ concat = finite differences (a repeated column sums its gradients)', () => {
  const rng = new TestRng(4);
  const a = new Tensor(randn(rng, 3 * 4), [3, 4], true);
  const b = new Tensor(randn(rng, 3 * 2), [3, 2], true);
  const cols = Int32Array.of(5, 0, 0, 3, 4, 1); // column 2 of a unused, column 0 twice
  const r = randn(rng, 3 * cols.length);
  // a nonlinear objective so the gradient depends on the values: Σ r ⊙ y²
  const f = () => { const y = selectColumns(concatColumns([a, b]), cols); let s = 0; y.data.forEach((v, i) => { s += r[i] * v * v; }); return { y, s }; };
  withGraph((g) => {
    const { y } = f();
    const dy = Float32Array.from(y.data, (v, i) => 2 * r[i] * v);
    g.record(() => { y.grad!.set(dy); }); // replayed first: seeds dL/dy (backward's seed 0 is overwritten)
    g.backward(y, 0);
  });
  for (const [name, t] of [['a', a], ['b', b]] as const) {
    const numeric = new Float32Array(t.size);
    for (let i = 0; i < t.size; i++) {
      const keep = t.data[i];
      t.data[i] = keep + 1e-2; const up = noGrad(() => f().s);
      t.data[i] = keep - 1e-2; const down = noGrad(() => f().s);
      t.data[i] = keep;
      numeric[i] = (up - down) / 2e-2;
    }
    assertClose(t.grad!, numeric, { abs: 2e-3, rel: 1e-2 }, `d${name}`);
  }
  assert.deepEqual(Array.from(a.grad!.filter((_, i) => i % 4 === 2)), [0, 0, 0], 'unused column gets no gradient');
});
