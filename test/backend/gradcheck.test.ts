// Finite-difference gradient checks for every forward/backward pair of the reference backend.
//
// Objective: L = Σ r ⊙ out for a fixed random r, so dL/dout = r is what each backward receives.
// For a random subset of input coordinates, the central difference (L(x+δ) − L(x−δ)) / (x₊ − x₋)
// is compared with the analytic gradient. The float32 kernels are used as they are; L is summed in
// float64, and the denominator is the perturbation actually stored (x ± eps rounded to float32), so
// the only noise is the float32 rounding of the outputs that change: with eps = 1e-3 it is ~1e-4,
// well inside the tolerance max(1e-3·|g|, 2e-3), while a wrong term in a backward is O(|g|).
// Each case also checks that backward accumulates: pre-filled gradient buffers end at pre + grad.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { referenceBackend as ref } from '../../src/backend/reference/index.js';
import { TestRng, assertClose, randInt, randn } from '../helpers.js';

type Buffers = Record<string, Float32Array>;

interface GradCase {
  /** Differentiable inputs; perturbed in place by the check. */
  inputs: Buffers;
  /** Runs the forward at the current inputs and returns its output. */
  forward(): Float32Array;
  /** Adds the gradient of Σ dout ⊙ forward() w.r.t. each input into grads (same keys as inputs). */
  backward(dout: Float32Array, grads: Buffers): void;
  /** False for a backward that overwrites (cross-entropy); skips the accumulate check. */
  accumulates?: boolean;
}

const EPS = 1e-3;
const COORDS = 24; // coordinates checked per input

function objective(out: Float32Array, r: Float32Array): number {
  let s = 0;
  for (let i = 0; i < out.length; i++) s += r[i] * out[i];
  return s;
}

function zerosLike(b: Buffers): Buffers {
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, new Float32Array(v.length)]));
}

/** Runs the check and returns one line per mismatching coordinate (empty when the gradient is right). */
function gradcheck(c: GradCase, seed: number): string[] {
  const rng = new TestRng(seed);
  const r = randn(rng, c.forward().length);
  const grads = zerosLike(c.inputs);
  c.backward(r, grads);

  if (c.accumulates !== false) {
    // The forward above is still current, so the backward can run again on the same saved state.
    const pre = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, randn(rng, v.length)]));
    const acc = Object.fromEntries(Object.entries(pre).map(([k, v]) => [k, v.slice()]));
    c.backward(r, acc);
    for (const k of Object.keys(pre)) {
      assertClose(acc[k], pre[k].map((p, i) => p + grads[k][i]), { abs: 1e-6, rel: 1e-6 }, `accumulated d${k}`);
    }
  }

  const failures: string[] = [];
  for (const [name, x] of Object.entries(c.inputs)) {
    for (const i of rng.sample(x.length, COORDS)) {
      const x0 = x[i];
      x[i] = x0 + EPS;
      const xp = x[i];
      const lp = objective(c.forward(), r);
      x[i] = x0 - EPS;
      const xm = x[i];
      const lm = objective(c.forward(), r);
      x[i] = x0;
      const fd = (lp - lm) / (xp - xm);
      const g = grads[name][i];
      if (!(Math.abs(g - fd) <= Math.max(1e-3 * Math.abs(fd), 2e-3))) {
        failures.push(`d${name}[${i}]: analytic ${g}, finite difference ${fd}`);
      }
    }
  }
  c.forward(); // leave saved state consistent with the restored inputs
  return failures;
}

function assertGradcheck(c: GradCase, seed = 1): void {
  const failures = gradcheck(c, seed);
  assert.deepEqual(failures, [], failures.join('\n'));
}

/** cos/sin tables [maxPos, hd/2] for θ = pos·theta^(−2j/hd). */
function ropeTables(maxPos: number, hd: number, theta = 10000): { cos: Float32Array; sin: Float32Array } {
  const half = hd / 2;
  const cos = new Float32Array(maxPos * half);
  const sin = new Float32Array(maxPos * half);
  for (let p = 0; p < maxPos; p++) {
    for (let j = 0; j < half; j++) {
      const a = p * theta ** ((-2 * j) / hd);
      cos[p * half + j] = Math.cos(a);
      sin[p * half + j] = Math.sin(a);
    }
  }
  return { cos, sin };
}

describe('gradcheck: matmul', () => {
  // c = op(a)·op(b) with dc = r. The gradients are themselves matmuls, one per transpose case:
  //   (F,F) c = a·b     [M,K]·[K,N]:  da += dc·bᵀ (F,T),   db += aᵀ·dc (T,F)
  //   (F,T) c = a·bᵀ    b [N,K]:      da += dc·b  (F,F),   db += dcᵀ·a (T,F)
  //   (T,F) c = aᵀ·b    a [K,M]:      da += b·dcᵀ (F,T),   db += a·dc  (F,F)
  const M = 3, N = 4, K = 5;
  for (const [transA, transB] of [[false, false], [false, true], [true, false]] as const) {
    it(`transA=${transA} transB=${transB}, w.r.t. a and b`, () => {
      const rng = new TestRng(10);
      const inputs = { a: randn(rng, M * K), b: randn(rng, K * N) };
      const c = new Float32Array(M * N);
      assertGradcheck({
        inputs,
        forward: () => {
          ref.matmul(c, inputs.a, inputs.b, M, N, K, transA, transB, false);
          return c;
        },
        backward: (dc, g) => {
          const { a, b } = inputs;
          if (!transA && !transB) {
            ref.matmul(g.a, dc, b, M, K, N, false, true, true);
            ref.matmul(g.b, a, dc, K, N, M, true, false, true);
          } else if (transB) {
            ref.matmul(g.a, dc, b, M, K, N, false, false, true);
            ref.matmul(g.b, dc, a, N, K, M, true, false, true);
          } else {
            ref.matmul(g.a, b, dc, K, M, N, false, true, true);
            ref.matmul(g.b, a, dc, K, N, M, false, false, true);
          }
        },
      });
    });
  }
});

describe('gradcheck: embedding, RMSNorm, RoPE', () => {
  it('embedding w.r.t. the table (repeated ids sum)', () => {
    const rng = new TestRng(20);
    const T = 6, D = 3, V = 4;
    const ids = Int32Array.from([1, 3, 1, 0, 1, 3]);
    const inputs = { table: randn(rng, V * D) };
    const out = new Float32Array(T * D);
    assertGradcheck({
      inputs,
      forward: () => {
        ref.embeddingForward(out, ids, inputs.table, T, D, V);
        return out;
      },
      backward: (dout, g) => ref.embeddingBackward(g.table, dout, ids, T, D),
    });
  });

  it('RMSNorm w.r.t. x and w', () => {
    const rng = new TestRng(21);
    const T = 3, D = 8;
    const inputs = { x: randn(rng, T * D), w: randn(rng, D) };
    const out = new Float32Array(T * D);
    const rstd = new Float32Array(T);
    assertGradcheck({
      inputs,
      forward: () => {
        ref.rmsnormForward(out, rstd, inputs.x, inputs.w, T, D, 1e-5);
        return out;
      },
      backward: (dout, g) => ref.rmsnormBackward(g.x, g.w, dout, inputs.x, inputs.w, rstd, T, D),
    });
  });

  it('RoPE w.r.t. x (several heads and positions)', () => {
    const rng = new TestRng(22);
    const R = 3, H = 2, hd = 6;
    const { cos, sin } = ropeTables(5, hd);
    const pos = Int32Array.from([4, 0, 2]);
    const inputs = { x: randn(rng, R * H * hd) };
    const out = new Float32Array(R * H * hd);
    assertGradcheck({
      inputs,
      forward: () => {
        ref.ropeForward(out, inputs.x, cos, sin, pos, R, H, hd);
        return out;
      },
      backward: (dout, g) => ref.ropeBackward(g.x, dout, cos, sin, pos, R, H, hd),
    });
  });
});

describe('gradcheck: attention', () => {
  for (const [nh, nkv] of [[4, 2], [2, 2], [4, 1]] as const) {
    it(`w.r.t. q, k and v (B=2, T=5, nh=${nh}, nkv=${nkv}, hd=4)`, () => {
      const rng = new TestRng(30 + nkv);
      const B = 2, T = 5, hd = 4;
      const inputs = { q: randn(rng, B * T * nh * hd), k: randn(rng, B * T * nkv * hd), v: randn(rng, B * T * nkv * hd) };
      const out = new Float32Array(B * T * nh * hd);
      const att = new Float32Array(B * nh * T * T);
      assertGradcheck({
        inputs,
        forward: () => {
          ref.attentionForward(out, att, inputs.q, inputs.k, inputs.v, B, T, nh, nkv, hd);
          return out;
        },
        backward: (dout, g) =>
          ref.attentionBackward(g.q, g.k, g.v, dout, inputs.q, inputs.k, inputs.v, att, B, T, nh, nkv, hd),
      });
    });
  }
});

describe('gradcheck: SwiGLU, softmax, cross-entropy', () => {
  it('SwiGLU w.r.t. gate and up', () => {
    const rng = new TestRng(40);
    const n = 16;
    const inputs = { gate: randn(rng, n, 3), up: randn(rng, n) };
    const out = new Float32Array(n);
    assertGradcheck({
      inputs,
      forward: () => {
        ref.swigluForward(out, inputs.gate, inputs.up, n);
        return out;
      },
      backward: (dout, g) => ref.swigluBackward(g.gate, g.up, dout, inputs.gate, inputs.up, n),
    });
  });

  it('softmax w.r.t. x', () => {
    const rng = new TestRng(41);
    const rows = 3, cols = 5;
    const inputs = { x: randn(rng, rows * cols, 2) };
    const out = new Float32Array(rows * cols);
    assertGradcheck({
      inputs,
      forward: () => {
        ref.softmaxForward(out, inputs.x, rows, cols);
        return out;
      },
      backward: (dout, g) => ref.softmaxBackward(g.x, dout, out, rows, cols),
    });
  });

  it('Top-P raw-probability weights w.r.t. the logits, selection held constant (§1.2)', () => {
    const rng = new TestRng(43);
    const T = 5, E = 7;
    const inputs = { logits: randn(rng, T * E, 2) };
    const probs = new Float32Array(T * E), order = new Int32Array(T * E), count = new Int32Array(T);
    ref.topPRoute(probs, order, count, inputs.logits, T, E, 0.4, false, 1, E);
    const selected = Array.from(count).flatMap((k, t) => Array.from(order.subarray(t * E, t * E + k), (e) => t * E + e));
    assert.ok(selected.length > T, 'some token selects several experts');
    const scratchOrder = new Int32Array(T * E), scratchCount = new Int32Array(T);
    assertGradcheck({
      inputs,
      forward: () => { // w = probs at the pairs first selected: k and S are constants (§1.2)
        ref.topPRoute(probs, scratchOrder, scratchCount, inputs.logits, T, E, 0.4, false, 1, E);
        return Float32Array.from(selected, (i) => probs[i]);
      },
      backward: (dw, g) => ref.topPBackward(g.logits, dw, probs, order, count, T, E),
    });
  });

  it('cross-entropy w.r.t. logits, with an ignored target; in place matches', () => {
    const rng = new TestRng(42);
    const T = 4, V = 7;
    const targets = randInt(rng, T, 0, V);
    targets[2] = -1;
    const inputs = { logits: randn(rng, T * V, 2) };
    const losses = new Float32Array(T);
    const lse = new Float32Array(T);
    assertGradcheck({
      inputs,
      accumulates: false,
      forward: () => {
        ref.crossEntropyForward(losses, lse, inputs.logits, targets, T, V);
        return losses;
      },
      backward: (dlosses, g) => {
        ref.crossEntropyBackward(g.logits, inputs.logits, lse, targets, dlosses, T, V);
        const inPlace = inputs.logits.slice();
        ref.crossEntropyBackward(inPlace, inPlace, lse, targets, dlosses, T, V);
        assert.deepEqual([...inPlace], [...g.logits], 'in place gives the same bits');
      },
    });
    const dl = new Float32Array(T * V);
    ref.crossEntropyBackward(dl, inputs.logits, lse, targets, Float32Array.from([1, 1, 1, 1]), T, V);
    assert.deepEqual([...dl.subarray(2 * V, 3 * V)], new Array(V).fill(0), 'ignored row has zero gradient');
  });
});

describe('gradcheck: the check itself', () => {
  it('rejects a slightly wrong backward (SwiGLU with dgate off by 2%)', () => {
    const rng = new TestRng(50);
    const n = 16;
    const inputs = { gate: randn(rng, n), up: randn(rng, n) };
    const out = new Float32Array(n);
    const failures = gradcheck({
      inputs,
      forward: () => {
        ref.swigluForward(out, inputs.gate, inputs.up, n);
        return out;
      },
      backward: (dout, g) => {
        ref.swigluBackward(g.gate, g.up, dout, inputs.gate, inputs.up, n);
        for (let i = 0; i < n; i++) g.gate[i] *= 1.02;
      },
      accumulates: false,
    }, 1);
    assert.ok(failures.length > 0 && failures.every((f) => f.startsWith('dgate')), failures.join('\n'));
  });
});
