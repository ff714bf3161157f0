// The reference backend against hand-computed values. Each case is small enough to check on paper;
// the arithmetic is in the comments. Gradients of every forward/backward pair are checked separately
// by finite differences in gradcheck.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KERNEL_NAMES } from '../../src/backend/backend.js';
import { referenceBackend as ref } from '../../src/backend/reference/index.js';
import { TestRng, assertClose, randn } from '../helpers.js';

const f32 = (xs: number[]): Float32Array => Float32Array.from(xs);
const i32 = (xs: number[]): Int32Array => Int32Array.from(xs);
const TOL = { abs: 1e-6, rel: 1e-6 };

describe('reference backend: interface', () => {
  it('implements every kernel of the contract', () => {
    for (const name of KERNEL_NAMES) assert.equal(typeof ref[name], 'function', name);
    assert.equal(ref.name, 'reference');
    assert.equal(ref.isa, 'js');
    ref.setThreads(8); // ignored
    assert.equal(ref.threads(), 1);
  });

  it('shape errors name the kernel, the argument and both sizes', () => {
    const out = new Float32Array(12);
    const rstd = new Float32Array(3);
    assert.throws(() => ref.rmsnormForward(out, rstd, new Float32Array(10), new Float32Array(4), 3, 4, 1e-5),
      { message: 'rmsnormForward: x has 10 elements, expected T·D = 12' });
    assert.throws(() => ref.matmul(new Float32Array(4), new Float32Array(3), new Float32Array(4), 2, 2, 2,
      false, false, false), { message: 'matmul: a has 3 elements, expected M·K = 4' });
    assert.throws(() => ref.attentionForward(new Float32Array(8), new Float32Array(4), new Float32Array(8),
      new Float32Array(8), new Float32Array(7), 1, 2, 1, 1, 4),
    { message: 'attentionForward: v has 7 elements, expected B·T·nkv·hd = 8' });
    assert.throws(() => ref.attentionForward(new Float32Array(0), new Float32Array(0), new Float32Array(0),
      new Float32Array(0), new Float32Array(0), 1, 1, 3, 2, 4), /attentionForward: nh = 3 must be a multiple of nkv = 2/);
    assert.throws(() => ref.scale(new Float32Array(3), 2.5, 1), /scale: n must be a non-negative integer \(got 2.5\)/);
  });
});

describe('reference backend: matmul', () => {
  // A = [[1,2],[3,4]], B = [[5,6],[7,8]]:  A·B = [[1·5+2·7, 1·6+2·8], [3·5+4·7, 3·6+4·8]] = [[19,22],[43,50]]
  const A = f32([1, 2, 3, 4]);
  const At = f32([1, 3, 2, 4]); // Aᵀ stored, for transA
  const B = f32([5, 6, 7, 8]);
  const Bt = f32([5, 7, 6, 8]); // Bᵀ stored, for transB
  const AB = [19, 22, 43, 50];

  it('computes op(a)·op(b) in all three transpose cases', () => {
    const c = new Float32Array(4);
    ref.matmul(c, A, B, 2, 2, 2, false, false, false);
    assert.deepEqual([...c], AB);
    ref.matmul(c, A, Bt, 2, 2, 2, false, true, false);
    assert.deepEqual([...c], AB);
    ref.matmul(c, At, B, 2, 2, 2, true, false, false);
    assert.deepEqual([...c], AB);
  });

  it('handles non-square shapes and accumulates', () => {
    // [1,2] · [[1,2,3],[4,5,6]] = [1+8, 2+10, 3+12] = [9,12,15]; c starts at [1,1,1].
    const c = f32([1, 1, 1]);
    ref.matmul(c, f32([1, 2]), f32([1, 2, 3, 4, 5, 6]), 1, 3, 2, false, false, true);
    assert.deepEqual([...c], [10, 13, 16]);
    // Overwrite mode ignores what c held.
    ref.matmul(c, f32([1, 2]), f32([1, 2, 3, 4, 5, 6]), 1, 3, 2, false, false, false);
    assert.deepEqual([...c], [9, 12, 15]);
    // transA with M=3, K=1: aᵀ·b is an outer product [1,2,3]ᵀ·[4,5] = [[4,5],[8,10],[12,15]].
    const d = new Float32Array(6);
    ref.matmul(d, f32([1, 2, 3]), f32([4, 5]), 3, 2, 1, true, false, false);
    assert.deepEqual([...d], [4, 5, 8, 10, 12, 15]);
  });

  it('agrees across transpose cases at odd sizes (7×33 by 33×5), against a float64 triple loop', () => {
    const rng = new TestRng(3);
    const M = 7, N = 5, K = 33;
    const a = randn(rng, M * K); // [M,K]
    const b = randn(rng, K * N); // [K,N]
    const at = new Float32Array(K * M); // [K,M]
    const bt = new Float32Array(N * K); // [N,K]
    for (let i = 0; i < M; i++) for (let p = 0; p < K; p++) at[p * M + i] = a[i * K + p];
    for (let p = 0; p < K; p++) for (let j = 0; j < N; j++) bt[j * K + p] = b[p * N + j];
    const want = new Float32Array(M * N);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let p = 0; p < K; p++) s += a[i * K + p] * b[p * N + j];
        want[i * N + j] = s;
      }
    }
    const c = new Float32Array(M * N);
    ref.matmul(c, a, b, M, N, K, false, false, false);
    assertClose(c, want, TOL, 'a·b');
    ref.matmul(c, a, bt, M, N, K, false, true, false);
    assertClose(c, want, TOL, 'a·(bt)ᵀ');
    ref.matmul(c, at, b, M, N, K, true, false, false);
    assertClose(c, want, TOL, '(at)ᵀ·b');
  });

  it('accumulates dot products in float64', () => {
    // 1e8 + 1 − 1e8: float32 accumulation gives 0 (1e8 + 1 rounds to 1e8); float64 gives 1.
    const a = f32([1e8, 1, -1e8]);
    const ones = f32([1, 1, 1]);
    for (const [transA, transB] of [[false, false], [false, true], [true, false]]) {
      const c = new Float32Array(1);
      ref.matmul(c, a, ones, 1, 1, 3, transA, transB, false);
      assert.equal(c[0], 1, `transA=${transA} transB=${transB}`);
    }
  });

  it('rejects transA && transB', () => {
    assert.throws(() => ref.matmul(new Float32Array(4), A, B, 2, 2, 2, true, true, false), /matmul: transA && transB/);
  });
});

describe('reference backend: embedding', () => {
  const table = f32([0, 1, 10, 11, 20, 21]); // [V=3, D=2]

  it('gathers rows forward and scatter-adds backward (repeated ids sum)', () => {
    const out = new Float32Array(6);
    ref.embeddingForward(out, i32([2, 0, 2]), table, 3, 2, 3);
    assert.deepEqual([...out], [20, 21, 0, 1, 20, 21]);
    const dtable = f32([1, 1, 1, 1, 1, 1]);
    ref.embeddingBackward(dtable, f32([1, 2, 3, 4, 5, 6]), i32([2, 0, 2]), 3, 2);
    // row 0 += [3,4]; row 1 unchanged; row 2 += [1,2] + [5,6].
    assert.deepEqual([...dtable], [4, 5, 1, 1, 7, 9]);
  });

  it('names the kernel, the position and the value of a bad id', () => {
    const out = f32([7, 7, 7, 7]);
    assert.throws(() => ref.embeddingForward(out, i32([0, 5]), table, 2, 2, 3),
      { message: 'embeddingForward: ids[1] = 5 is out of range [0, 3)' });
    assert.deepEqual([...out], [7, 7, 7, 7], 'a bad batch leaves out untouched');
    assert.throws(() => ref.embeddingForward(out, i32([-1, 0]), table, 2, 2, 3), /embeddingForward: ids\[0\] = -1/);
    assert.throws(() => ref.embeddingBackward(new Float32Array(6), out, i32([0, 3]), 2, 2),
      /embeddingBackward: ids\[1\] = 3 is out of range \[0, 3\)/);
  });
});

describe('reference backend: RMSNorm', () => {
  it('normalises [1,2,3,4]', () => {
    // mean(x²) = (1+4+9+16)/4 = 7.5; with eps = 0.5: rstd = 1/sqrt(8) = 0.35355339.
    // w = [1, 0.5, 2, −1]: out = [0.35355339, 0.35355339, 2.12132034, −1.41421356].
    const out = new Float32Array(4);
    const rstd = new Float32Array(1);
    ref.rmsnormForward(out, rstd, f32([1, 2, 3, 4]), f32([1, 0.5, 2, -1]), 1, 4, 0.5);
    assertClose(rstd, [0.35355339], TOL, 'rstd');
    assertClose(out, [0.35355339, 0.35355339, 2.12132034, -1.41421356], TOL, 'out');
  });

  it('backward of x = [3,4], w = 1, eps = 0, dout = [1,0]', () => {
    // y1 = √2·x1/|x| with |x| = 5: ∂y1/∂x1 = √2·x2²/|x|³ = √2·16/125 = 0.18101934,
    // ∂y1/∂x2 = −√2·x1·x2/|x|³ = −√2·12/125 = −0.13576450; dw1 = x1·rstd = 3/√12.5 = 0.84852814.
    const x = f32([3, 4]);
    const w = f32([1, 1]);
    const out = new Float32Array(2);
    const rstd = new Float32Array(1);
    ref.rmsnormForward(out, rstd, x, w, 1, 2, 0);
    const dx = f32([1, 1]); // accumulates
    const dw = new Float32Array(2);
    ref.rmsnormBackward(dx, dw, f32([1, 0]), x, w, rstd, 1, 2);
    assertClose(dx, [1.18101934, 0.8642355], TOL, 'dx');
    assertClose(dw, [0.84852814, 0], TOL, 'dw');
  });
});

describe('reference backend: RoPE', () => {
  // hd = 4 (half = 2), maxPos = 2. Position 0: cos 1, sin 0 everywhere (identity).
  // Position 1: pair j = 0 rotated by 90° (cos 0, sin 1), pair j = 1 not rotated (cos 1, sin 0).
  const cos = f32([1, 1, 0, 1]);
  const sin = f32([0, 0, 1, 0]);

  it('is the identity at position 0 and rotates pair (x0, x2) by 90° at position 1', () => {
    // Row 1, pair 0: (x0, x2) = (1, 3) → (1·0 − 3·1, 3·0 + 1·1) = (−3, 1); pair 1 (2, 4) unchanged.
    const x = f32([1, 2, 3, 4, 1, 2, 3, 4]); // [R=2, H=1, hd=4]
    const out = new Float32Array(8);
    ref.ropeForward(out, x, cos, sin, i32([0, 1]), 2, 1, 4);
    assert.deepEqual([...out], [1, 2, 3, 4, -3, 2, 1, 4]);
    ref.ropeForward(x, x, cos, sin, i32([0, 1]), 2, 1, 4); // in place
    assert.deepEqual([...x], [...out]);
  });

  it('backward rotates by −θ and accumulates', () => {
    const dx = f32([1, 1, 1, 1]);
    ref.ropeBackward(dx, f32([-3, 2, 1, 4]), cos, sin, i32([1]), 1, 1, 4);
    assert.deepEqual([...dx], [2, 3, 4, 5]); // [1,2,3,4] + 1
  });

  it('rejects positions outside the tables', () => {
    assert.throws(() => ref.ropeForward(new Float32Array(4), new Float32Array(4), cos, sin, i32([2]), 1, 1, 4),
      { message: 'ropeForward: pos[0] = 2 is out of range [0, 2) of the cos/sin tables' });
  });
});

describe('reference backend: attention', () => {
  it('returns v when T = 1 (GQA: heads 0,1 read kv head 0; heads 2,3 read kv head 1)', () => {
    const rng = new TestRng(1);
    const hd = 3;
    const q = randn(rng, 4 * hd);
    const k = randn(rng, 2 * hd);
    const v = randn(rng, 2 * hd);
    const out = new Float32Array(4 * hd);
    const att = new Float32Array(4);
    ref.attentionForward(out, att, q, k, v, 1, 1, 4, 2, hd);
    const v0 = [...v.subarray(0, hd)];
    const v1 = [...v.subarray(hd)];
    assert.deepEqual([...out], [...v0, ...v0, ...v1, ...v1]);
    assert.deepEqual([...att], [1, 1, 1, 1]);
  });

  it('is causal with hand-computed probabilities', () => {
    // hd = 1 (scale 1), T = 2: q = [·, 1], k = [0, ln 3], v = [2, 6].
    // Query 0 sees key 0 only: p = [1, 0], out = 2.
    // Query 1 scores [1·0, 1·ln 3] → softmax [1/4, 3/4], out = 2/4 + 18/4 = 5.
    const out = new Float32Array(2);
    const att = f32([9, 9, 9, 9]); // garbage must be overwritten, including above the diagonal
    ref.attentionForward(out, att, f32([5, 1]), f32([0, Math.log(3)]), f32([2, 6]), 1, 2, 1, 1, 1);
    assertClose(att, [1, 0, 0.25, 0.75], TOL, 'att');
    assertClose(out, [2, 5], TOL, 'out');
  });
});

describe('reference backend: SwiGLU', () => {
  it('computes silu(gate)·up without overflow', () => {
    // silu(0) = 0; silu(1) = σ(1) = 0.73105858; silu(−1) = −σ(−1) = −0.26894142;
    // silu(20) = 20·(1 − 2e−9) ≈ 20; silu(−200) ≈ −200·e^−200 → 0 (no NaN).
    const out = new Float32Array(5);
    ref.swigluForward(out, f32([0, 1, -1, 20, -200]), f32([3, 2, 2, 1, 1]), 5);
    assertClose(out, [0, 1.46211716, -0.53788284, 20, 0], TOL, 'out');
  });

  it('backward at gate = 0 is dout·up/2 for gate and 0 for up', () => {
    // d silu/dg = σ(g)·(1 + g·(1 − σ(g))) = 1/2 at g = 0.
    const dgate = f32([1, 1]);
    const dup = f32([1, 1]);
    ref.swigluBackward(dgate, dup, f32([2, 4]), f32([0, 0]), f32([3, 5]), 2);
    assert.deepEqual([...dgate], [1 + 3, 1 + 10]);
    assert.deepEqual([...dup], [1, 1]);
  });
});

describe('reference backend: softmax', () => {
  it('softmax of [1,2,3] and of huge equal logits', () => {
    // e^(x−3) = [e^−2, e^−1, 1] = [0.13533528, 0.36787944, 1], sum 1.50321472
    // → [0.09003057, 0.24472847, 0.66524096]. [1000, 1000] → [0.5, 0.5] (max-subtracted, no inf).
    const out = new Float32Array(5);
    ref.softmaxForward(out.subarray(0, 3), f32([1, 2, 3]), 1, 3);
    ref.softmaxForward(out.subarray(3), f32([1000, 1000]), 1, 2);
    assertClose(out, [0.09003057, 0.24472847, 0.66524096, 0.5, 0.5], TOL, 'out');
  });

  it('backward: out = [½, ½], dout = [1, 0] → dx += ½·([1,0] − ½) = [¼, −¼]', () => {
    const dx = f32([1, 1]);
    ref.softmaxBackward(dx, f32([1, 0]), f32([0.5, 0.5]), 1, 2);
    assert.deepEqual([...dx], [1.25, 0.75]);
  });
});

describe('reference backend: cross-entropy', () => {
  // logits [1,2,3]: lse = 3 + ln(1 + e^−1 + e^−2) = 3 + ln 1.50321472 = 3.40760596.
  // target 2: loss = 0.40760596; target 0: loss = 2.40760596; target −1: ignored.
  const logits = f32([1, 2, 3, 1, 2, 3, 1, 2, 3]);
  const targets = i32([2, 0, -1]);

  it('forward: losses, lse, and an ignored target', () => {
    const losses = f32([9, 9, 9]);
    const lse = new Float32Array(3);
    ref.crossEntropyForward(losses, lse, logits, targets, 3, 3);
    assertClose(losses, [0.40760596, 2.40760596, 0], TOL, 'losses');
    assertClose(lse, [3.40760596, 3.40760596, 3.40760596], TOL, 'lse');
  });

  it('backward: (softmax − onehot)·dloss, 0 for ignored rows; overwrites; works in place', () => {
    const losses = new Float32Array(3);
    const lse = new Float32Array(3);
    ref.crossEntropyForward(losses, lse, logits, targets, 3, 3);
    const dl = f32([2, 1, 5]);
    const d = f32([9, 9, 9, 9, 9, 9, 9, 9, 9]); // overwritten, not accumulated
    ref.crossEntropyBackward(d, logits, lse, targets, dl, 3, 3);
    // softmax = [0.09003057, 0.24472847, 0.66524096]
    assertClose(d, [
      2 * 0.09003057, 2 * 0.24472847, 2 * (0.66524096 - 1),
      0.09003057 - 1, 0.24472847, 0.66524096,
      0, 0, 0,
    ], TOL, 'dlogits');
    const inPlace = logits.slice();
    ref.crossEntropyBackward(inPlace, inPlace, lse, targets, dl, 3, 3);
    assert.deepEqual([...inPlace], [...d], 'in place gives the same bits');
  });

  it('a target >= V throws', () => {
    assert.throws(() => ref.crossEntropyForward(new Float32Array(1), new Float32Array(1), f32([1, 2, 3]),
      i32([3]), 1, 3), { message: 'crossEntropyForward: targets[0] = 3 is out of range (V = 3)' });
    assert.throws(() => ref.crossEntropyBackward(new Float32Array(3), f32([1, 2, 3]), f32([0]), i32([3]),
      f32([1]), 1, 3), /crossEntropyBackward: targets\[0\] = 3/);
  });
});

describe('reference backend: AdamW and utilities', () => {
  it('first steps move each weight by lr·sign(g) plus the decoupled decay', () => {
    // Step 1: m = (1−β1)g, v = (1−β2)g², so m̂ = g, v̂ = g² and m̂/(√v̂ + eps) = sign(g) (eps ≪ |g|).
    // p −= lr·(sign(g) + wd·p) with lr = 0.1, wd = 0.01:
    //   1 − 0.1·(1 + 0.01) = 0.899;  −2 − 0.1·(−1 − 0.02) = −1.898;  0.5 − 0.1·(1 + 0.005) = 0.3995.
    // gradScale = 0.5 halves the stored gradient [0.6, −0.2, 4] first.
    const p = f32([1, -2, 0.5]);
    const g = f32([0.6, -0.2, 4]);
    const m = new Float32Array(3);
    const v = new Float32Array(3);
    ref.adamw(p, g, m, v, 3, 0.1, 0.9, 0.999, 1e-8, 0.01, 1, 0.5);
    assertClose(p, [0.899, -1.898, 0.3995], TOL, 'p after step 1');
    assertClose(m, [0.03, -0.01, 0.2], TOL, 'm');
    assertClose(v, [0.00009, 0.00001, 0.004], TOL, 'v');
    assert.deepEqual([...g], [...f32([0.6, -0.2, 4])], 'grad is not modified');
    // Step 2 with the same gradient: m = 0.19g, m̂ = 0.19g/(1 − 0.81) = g; likewise v̂ = g².
    const p1 = [...p];
    ref.adamw(p, g, m, v, 3, 0.1, 0.9, 0.999, 1e-8, 0.01, 2, 0.5);
    assertClose(p, p1.map((x, i) => x - 0.1 * (Math.sign(g[i]) + 0.01 * x)), TOL, 'p after step 2');
  });

  it('rejects step 0', () => {
    const z = new Float32Array(1);
    assert.throws(() => ref.adamw(z, z, z, z, 1, 0.1, 0.9, 0.999, 1e-8, 0, 0, 1), /adamw: step must be an integer >= 1/);
  });

  it('sumSquares accumulates in float64; scale; add with aliasing', () => {
    assert.equal(ref.sumSquares(f32([1, 2, 3]), 3), 14);
    // 1e8 + 1: a float32 sum would lose the 1.
    assert.equal(ref.sumSquares(f32([1e4, 1]), 2), 100000001);
    const x = f32([1, -2, 3]);
    ref.scale(x, 3, 0.5);
    assert.deepEqual([...x], [0.5, -1, 1.5]);
    const a = f32([1, 2, 3]);
    ref.add(a, a, f32([10, 20, 30]), 3);
    assert.deepEqual([...a], [11, 22, 33]);
    ref.add(a, f32([1, 1, 1]), a, 3);
    assert.deepEqual([...a], [12, 23, 34]);
    ref.add(a, a, a, 3);
    assert.deepEqual([...a], [24, 46, 68]);
  });
});

describe('reference backend: dtype conversions', () => {
  const toBf16 = (xs: number[]): number[] => {
    const d = new Uint16Array(xs.length);
    ref.f32ToBf16(d, f32(xs), xs.length);
    return [...d];
  };
  const toF16 = (xs: number[]): number[] => {
    const d = new Uint16Array(xs.length);
    ref.f32ToF16(d, f32(xs), xs.length);
    return [...d];
  };
  const fromF16 = (bits: number[]): number[] => {
    const d = new Float32Array(bits.length);
    ref.f16ToF32(d, Uint16Array.from(bits), bits.length);
    return [...d];
  };
  const isQuietNaNF16 = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x0200) !== 0;
  const isQuietNaNBf16 = (h: number): boolean => (h & 0x7f80) === 0x7f80 && (h & 0x0040) !== 0;

  it('bf16: exact values, ties to even, overflow, NaN', () => {
    // 1 = 0x3f800000 → 0x3f80; −2 → 0xc000. bf16 keeps 7 mantissa bits, so the ulp at 1 is 2^−7:
    // 1 + 2^−8 is halfway between 0x3f80 and 0x3f81 → even 0x3f80; 1 + 3·2^−8 → even 0x3f82;
    // 1 + 2^−8 + 2^−20 is above halfway → 0x3f81.
    assert.deepEqual(toBf16([1, -2, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20]),
      [0x3f80, 0xc000, 0x3f80, 0x3f82, 0x3f81]);
    // FLT_MAX (0x7f7fffff) is past halfway to 2^128, so it rounds to inf; −0 keeps its sign.
    assert.deepEqual(toBf16([3.4028234663852886e38, Infinity, -Infinity, -0]), [0x7f80, 0x7f80, 0xff80, 0x8000]);
    assert.ok(isQuietNaNBf16(toBf16([NaN])[0]));
    const back = new Float32Array(2);
    ref.bf16ToF32(back, Uint16Array.from([0x3f80, 0x7fc0]), 2);
    assert.equal(back[0], 1);
    assert.ok(Number.isNaN(back[1]));
  });

  it('f16: 1.0, the largest finite value, overflow to inf, subnormals, ties, NaN', () => {
    // 65504 = (2 − 2^−10)·2^15 = 0x7bff. The next value would be 65536, so 65520 is exactly halfway and
    // rounds to even, which is 0x7c00 = inf; 65519 stays 65504.
    assert.deepEqual(toF16([1, 65504, 65519, 65520, -65520, 1e5]), [0x3c00, 0x7bff, 0x7bff, 0x7c00, 0xfc00, 0x7c00]);
    // Subnormal unit 2^−24 = 5.96e−8. 1e−7 = 1.68 units → 0x0002; 6e−8 = 1.007 units → 0x0001;
    // 1e−8 = 0.17 units is below half a unit → +0; 2^−25 is exactly half → even (0); 1.5·2^−25 → 1 unit.
    assert.deepEqual(toF16([2 ** -14, 2 ** -24, 1e-7, 6e-8, 1e-8, 2 ** -25, 1.5 * 2 ** -25, -1e-7]),
      [0x0400, 0x0001, 0x0002, 0x0001, 0x0000, 0x0000, 0x0001, 0x8002]);
    // 1023.5 units, halfway between the largest subnormal 0x03ff and the smallest normal 0x0400 → even.
    assert.deepEqual(toF16([1023.5 * 2 ** -24]), [0x0400]);
    // Normal ties: the ulp at 1 is 2^−10; 1 + 2^−11 → 0x3c00, 1 + 3·2^−11 → 0x3c02.
    assert.deepEqual(toF16([1 + 2 ** -11, 1 + 3 * 2 ** -11, -0, Infinity]), [0x3c00, 0x3c02, 0x8000, 0x7c00]);
    assert.ok(isQuietNaNF16(toF16([NaN])[0]));
  });

  it('f16 → f32 decodes subnormals, the extremes, −0 and NaN', () => {
    const [tiny, bigSub, max, negInf, nan, negZero] = fromF16([0x0001, 0x03ff, 0x7bff, 0xfc00, 0x7e00, 0x8000]);
    assert.equal(tiny, 2 ** -24);
    assert.equal(bigSub, 1023 * 2 ** -24);
    assert.equal(max, 65504);
    assert.equal(negInf, -Infinity);
    assert.ok(Number.isNaN(nan));
    assert.ok(Object.is(negZero, -0));
  });

  it('every f16 and bf16 bit pattern survives decode → encode (NaNs stay quiet NaNs)', () => {
    const all = new Uint16Array(65536);
    for (let i = 0; i < all.length; i++) all[i] = i;
    const vals = new Float32Array(65536);
    const again = new Uint16Array(65536);
    for (const [decode, encode, isNaNBits, isQuiet] of [
      [ref.f16ToF32, ref.f32ToF16, (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0, isQuietNaNF16],
      [ref.bf16ToF32, ref.f32ToBf16, (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0, isQuietNaNBf16],
    ] as const) {
      decode(vals, all, 65536);
      encode(again, vals, 65536);
      for (let h = 0; h < 65536; h++) {
        if (isNaNBits(h)) assert.ok(Number.isNaN(vals[h]) && isQuiet(again[h]), `NaN 0x${h.toString(16)}`);
        else assert.equal(again[h], h, `0x${h.toString(16)}`);
      }
    }
  });

  it('encoding picks the nearest representable value, ties to even (random f32 over all exponents)', () => {
    // Independent of the bit tricks: compare with the decoded neighbours h−1 and h+1. Past the
    // largest finite value IEEE rounding gives inf (f16: |x| >= 65520), which has no "distance".
    const rng = new TestRng(7);
    const n = 20000;
    const src = new Float32Array(n);
    for (let i = 0; i < n; i++) src[i] = (rng.uniform() < 0.5 ? -1 : 1) * 2 ** (rng.uniform() * 60 - 30);
    for (const [encode, decode] of [[ref.f32ToF16, ref.f16ToF32], [ref.f32ToBf16, ref.bf16ToF32]] as const) {
      const bits = new Uint16Array(n);
      encode(bits, src, n);
      const dec = (h: number): number => {
        const out = new Float32Array(1);
        decode(out, Uint16Array.of(h), 1);
        return out[0];
      };
      for (let i = 0; i < n; i++) {
        const x = src[i];
        const h = bits[i];
        if (!Number.isFinite(dec(h))) {
          assert.ok(encode === ref.f32ToF16 && Math.abs(x) >= 65520, `x = ${x} → inf`);
          continue;
        }
        const err = Math.abs(dec(h) - x);
        for (const nb of [h - 1, h + 1]) {
          if ((nb & 0x7fff) === 0x7fff || nb < 0 || nb > 0xffff || ((h ^ nb) & 0x8000) !== 0) continue;
          const nbVal = dec(nb);
          if (Number.isNaN(nbVal)) continue;
          const nbErr = Math.abs(nbVal - x);
          assert.ok(err < nbErr || (err === nbErr && (h & 1) === 0), `x = ${x}: 0x${h.toString(16)} vs 0x${nb.toString(16)}`);
        }
      }
    }
  });
});
