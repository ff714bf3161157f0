// f32 GEMM: c[M,N] (= or +=) op(a)[M,K] · op(b)[K,N], and a measured FMA peak for the benchmarks.
//
// Two paths:
// - Packed (BLIS / GotoBLAS): B is packed into NR-column panels [kc][NR] and A into one MR-row panel
//   [kc][MR] at a time; a register-blocked MR×NR micro-kernel does all the arithmetic. Packing absorbs
//   the transposes (one micro-kernel serves NN, NT and TN) and zero-pads the edges (padded rows/columns
//   only reach outputs that are never stored). Work unit: a chunk of rows × one column block (≤ NC),
//   over all of K: pc (KC) → MC rows: pack an A block → ir (MR) → jr (NR): micro-kernel.
//   The A micro-panel (≤ 12 KiB) stays in L1 across the whole jr sweep while the B block of one K block
//   (KC×NC ≤ 768 KiB) streams from the 1 MiB L2 — two zmm of B per 12 broadcasts + 24 FMAs is far below
//   L2 bandwidth on Zen 4. (The bench README's BLIS-style kernel with 12×32 tiles, KC = 256, MC = 120
//   reached ~180 GFLOP/s on 2 cores; KC ∈ {128, 256, 384} × MC ∈ {72, 120, 240} mattered little.)
// - Small M (decode GEMV, a few rows): no packing. transB (x·Wᵀ with W[N,K]) is dot products of
//   contiguous rows; otherwise rows of B are axpy'd into register-resident column chunks of C.
//
// Every output element is computed by one thread, with the same K order whichever thread that is, so the
// work is handed out dynamically (parallel_dynamic: tiles of C taken from a shared counter; a worker
// that is descheduled or asleep on these shared 2-core machines is simply not waited for) and results
// are still bit-identical for any thread count (stronger than the contract's "fixed thread count").
#include "common.h"
#include "half.h"
#include "simd.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

namespace moekit {
namespace {

using simd::vf;
using simd::hsum4;
constexpr int W = simd::W;

// ---- blocking parameters ------------------------------------------------------------------------
// Micro-tile MR × (NV·W): AVX-512 12×32 = 24 zmm accumulators + 2 for B + 1 broadcast (of 32 regs);
// AVX2 6×16 = 12 ymm of 16; scalar 4×4 = 16 accumulators (the compiler keeps them in registers).
// Zen 4 needs ≥ 4 independent zmm FMA chains (4-cycle latency, one zmm FMA per cycle) — 24 is ample.
#if defined(__AVX512F__)
constexpr int MR = 12, NV = 2;
#elif defined(__AVX2__)
constexpr int MR = 6, NV = 2;
#else
constexpr int MR = 4, NV = 4;
#endif
constexpr int NR = NV * W;
constexpr int64_t KC_MAX = 256;  // A micro-panel MR·KC·4 B = 12 KiB (L1 is 32 KiB)
constexpr int64_t NC_MAX = 768;  // B block KC·NC·4 B = 768 KiB (L2 is 1 MiB per core)
constexpr int64_t MC_MAX = 72;   // A block MC·KC·4 B = 72 KiB beside B in L2 (72 beat 120 and 240 here)
constexpr int64_t L2_FLOATS = 1 << 18;  // Zen 4: 1 MiB L2 per core
constexpr int64_t SMALL_M = 8;   // M ≤ this: no packing (packing B costs K·N for only M·K·N FMAs)
constexpr int64_t MIN_WORK_PER_THREAD = 1 << 16;  // multiply-adds; below this a wake-up costs more
// The small-M path is bound by reading B (4 bytes per multiply-add, from L3 or DRAM during decode), so a
// share of 2^15 multiply-adds (128 KiB of B, several µs) already outweighs handing it to a spinning
// worker: the decode step's 256×256 attention projections then use both cores too.
constexpr int64_t MIN_WORK_PER_THREAD_SMALL_M = 1 << 15;

// ---- per-thread buffers -------------------------------------------------------------------------
// Grow-only and 64-byte aligned; each pool thread owns its own, so steady-state calls never allocate.
struct Buffer {
  float* p = nullptr;
  size_t cap = 0;
  ~Buffer() { std::free(p); }
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      size_t bytes = (n * sizeof(float) + 63) & ~size_t(63);
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) throw std::bad_alloc();
      cap = n;
    }
    return p;
  }
};
thread_local Buffer tl_apack, tl_bpack, tl_rows, tl_widened;
// What tl_bpack / tl_rows currently hold: (call id, column block) and call id.
thread_local uint64_t tl_bpack_call = 0, tl_rows_call = 0;
thread_local int64_t tl_bpack_block = -1;

struct Gemm {
  uint64_t id;  // distinct per call: keys the per-thread caches of packed B and gathered rows
  float* c;
  const float* a;
  const float* b;
  // B held as 16-bit floats instead (b unused): widened to f32 where it is read, transB only.
  const uint16_t* bh = nullptr;
  Half bkind = Half::BF16;
  int64_t M, N, K;
  bool transA, transB, accumulate;
  // op(a)[i,k] and op(b)[k,j] as strides: element = base + i·ai + k·ak.
  int64_t a_si() const { return transA ? 1 : K; }
  int64_t a_sk() const { return transA ? M : 1; }
  int64_t b_sk() const { return transB ? 1 : N; }
  int64_t b_sj() const { return transB ? K : 1; }
};

// Near-equal blocks of at most `max`, rounded up to a multiple of `mult`: K = 688 gives 232+232+224
// instead of 256+256+176, so no block is a short, inefficient tail.
int64_t block_size(int64_t n, int64_t max, int64_t mult) {
  int64_t blocks = (n + max - 1) / max;
  int64_t per = (n + blocks - 1) / blocks;
  return std::min(max, (per + mult - 1) / mult * mult);
}

// ---- packing ------------------------------------------------------------------------------------
// Transposing copy: dst[k·ldd + r] = src[r·lds + k] for r < rows, k < kc. Used where a panel's rows are
// the contiguous dimension of the source (A stored [M,K], B stored [N,K]). Element-wise, this costs
// ~3 cycles per float (strided stores); 8×8 register transposes (24 shuffles per 64 floats) make
// packing a few % of the GEMM instead of 5–10 % (measured on the 2048×688×256 NT shape).
void transpose_copy(const float* src, int64_t lds, int rows, int64_t kc, float* dst, int64_t ldd) {
  int r = 0;
#if defined(__AVX2__)
  for (; r + 8 <= rows; r += 8) {
    const float* s = src + r * lds;
    float* d = dst + r;
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) {
      __m256 x[8], t[8], u[8];
      for (int i = 0; i < 8; i++) x[i] = _mm256_loadu_ps(s + i * lds + k);
      for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(x[i], x[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(x[i], x[i + 1]);
      }
      for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
      }
      // u[0..3] hold rows 0-3 and u[4..7] rows 4-7 of columns (k, k+1, k+2, k+3) in the low lane
      // and (k+4, ..., k+7) in the high lane.
      for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(d + (k + i) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(d + (k + i + 4) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
      }
    }
    for (; k < kc; k++)
      for (int i = 0; i < 8; i++) d[k * ldd + i] = s[i * lds + k];
  }
  for (; r + 4 <= rows; r += 4) {
    const float* s = src + r * lds;
    float* d = dst + r;
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) {
      __m256 x[4], t[4], u[4];
      for (int i = 0; i < 4; i++) x[i] = _mm256_loadu_ps(s + i * lds + k);
      t[0] = _mm256_unpacklo_ps(x[0], x[1]);
      t[1] = _mm256_unpackhi_ps(x[0], x[1]);
      t[2] = _mm256_unpacklo_ps(x[2], x[3]);
      t[3] = _mm256_unpackhi_ps(x[2], x[3]);
      u[0] = _mm256_shuffle_ps(t[0], t[2], 0x44);
      u[1] = _mm256_shuffle_ps(t[0], t[2], 0xEE);
      u[2] = _mm256_shuffle_ps(t[1], t[3], 0x44);
      u[3] = _mm256_shuffle_ps(t[1], t[3], 0xEE);
      for (int i = 0; i < 4; i++) {  // 4 rows of column k+i (low lane) and of k+i+4 (high lane)
        _mm_storeu_ps(d + (k + i) * ldd, _mm256_castps256_ps128(u[i]));
        _mm_storeu_ps(d + (k + i + 4) * ldd, _mm256_extractf128_ps(u[i], 1));
      }
    }
    for (; k < kc; k++)
      for (int i = 0; i < 4; i++) d[k * ldd + i] = s[i * lds + k];
  }
#endif
  for (; r < rows; r++)
    for (int64_t k = 0; k < kc; k++) dst[k * ldd + r] = src[r * lds + k];
}

// dst[k·ldd + r] = 0 for from ≤ r < to: the zero padding of an edge panel.
void zero_cols(float* dst, int64_t ldd, int from, int to, int64_t kc) {
  for (int64_t k = 0; k < kc; k++)
    for (int r = from; r < to; r++) dst[k * ldd + r] = 0.0f;
}

// A block: rows [m0, m1) as ceil((m1-m0)/MR) micro-panels ap[panel][k][i] = op(a)[m0+panel·MR+i, p0+k],
// zero beyond row m1.   ap: [panels][kc][MR]
// Packing the whole block at once matters for a stored [K,M] (the weight gradient dYᵀ·X): each row of
// a then yields m1-m0 contiguous floats instead of MR floats from a fresh cache line per micro-panel.
void pack_a(const Gemm& g, int64_t m0, int64_t m1, int64_t p0, int64_t kc, float* ap) {
  for (int64_t ip = 0; ip < m1 - m0; ip += MR) {
    int mr = static_cast<int>(std::min<int64_t>(MR, m1 - m0 - ip));
    float* panel = ap + ip * kc;
    if (!g.transA) transpose_copy(g.a + (m0 + ip) * g.K + p0, g.K, mr, kc, panel, MR);
    if (mr < MR) zero_cols(panel, MR, mr, MR, kc);
  }
  if (g.transA) {  // a stored [K,M]
    for (int64_t k = 0; k < kc; k++) {
      const float* src = g.a + (p0 + k) * g.M + m0;
      for (int64_t ip = 0; ip < m1 - m0; ip += MR) {
        int mr = static_cast<int>(std::min<int64_t>(MR, m1 - m0 - ip));
        float* dst = ap + ip * kc + k * MR;
        for (int i = 0; i < mr; i++) dst[i] = src[ip + i];
      }
    }
  }
}

// B block: nc columns from j0 as ceil(nc/NR) panels bp[panel][k][j] = op(b)[p0+k, j0+panel·NR+j],
// zero beyond column j0+nc.   bp: [nc/NR][kc][NR]
void pack_b(const Gemm& g, int64_t j0, int64_t nc, int64_t p0, int64_t kc, float* bp) {
  for (int64_t jp = 0; jp < nc; jp += NR) {
    int nr = static_cast<int>(std::min<int64_t>(NR, nc - jp));
    float* panel = bp + jp * kc;
    if (g.bh) {  // b stored [N,K] as halves: widen the nr×kc slab, then transpose it like f32
      float* rows = tl_widened.get(static_cast<size_t>(NR * kc));
      for (int r = 0; r < nr; r++) {
        const uint16_t* src = g.bh + (j0 + jp + r) * g.K + p0;
        if (g.bkind == Half::BF16) half::widen<half::BF16>(rows + r * kc, src, kc);
        else half::widen<half::F16>(rows + r * kc, src, kc);
      }
      transpose_copy(rows, kc, nr, kc, panel, NR);
    } else if (g.transB) {  // b stored [N,K]
      transpose_copy(g.b + (j0 + jp) * g.K + p0, g.K, nr, kc, panel, NR);
    } else {  // b stored [K,N]: NR contiguous values per k
      for (int64_t k = 0; k < kc; k++) {
        const float* src = g.b + (p0 + k) * g.N + j0 + jp;
        float* dst = panel + k * NR;
        if (nr == NR) {
          for (int v = 0; v < NV; v++) simd::store(dst + v * W, simd::load(src + v * W));
        } else {
          for (int j = 0; j < nr; j++) dst[j] = src[j];
        }
      }
    }
    if (nr < NR) zero_cols(panel, NR, nr, NR, kc);
  }
}

// ---- micro-kernel -------------------------------------------------------------------------------
// c[MR, NR] (row stride ldc) = (beta ? c : 0) + Σ_k ap[k][:] ⊗ bp[k][:]. The sum starts from zero and
// C is added once at the end, so a full tile and an edge tile (via a temporary) round identically.
inline void micro_kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c,
                         int64_t ldc, bool beta) {
  vf acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[i][v] = simd::zero();
  for (int64_t k = 0; k < kc; k++) {
    vf bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) bv[v] = simd::load(bp + v * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      vf av = simd::set1(ap[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[i][v] = simd::fmadd(av, bv[v], acc[i][v]);
    }
    ap += MR;
    bp += NR;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      float* p = c + i * ldc + v * W;
      simd::store(p, beta ? simd::add(simd::load(p), acc[i][v]) : acc[i][v]);
    }
}

void edge_kernel(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int mr, int nr,
                 bool beta) {
  alignas(64) float tile[MR * NR];
  micro_kernel(kc, ap, bp, tile, NR, false);
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) {
      float t = tile[i * NR + j];
      c[i * ldc + j] = beta ? c[i * ldc + j] + t : t;
    }
}

// Packed path work split: C is cut into column blocks of nc_blk (≤ NC_MAX) and each into row chunks
// of whole micro-panels; a chunk is the full K sum for its rows × columns. A thread packs a column
// block's B (all K, one [kc][NR]-panel set per K block) once and keeps it while it takes further
// chunks of the same block, so B is packed once per thread per column block whatever the chunking.
struct Plan {
  int64_t kc_blk, nc_blk, nc_pad;  // nc_pad: nc_blk rounded up to NR (stride of one K block in bp)
  int64_t col_blocks, chunk_rows, row_chunks;
};

// Packed B of all K for one column block is K·nc floats per thread; keep it within ~8 MiB.
constexpr int64_t BPACK_MAX_FLOATS = 2 << 20;

Plan plan_packed(const Gemm& g, int nth) {
  Plan p;
  p.kc_blk = block_size(g.K, KC_MAX, 8);
  int64_t nc_max = std::max<int64_t>(NR, std::min<int64_t>(NC_MAX, BPACK_MAX_FLOATS / g.K / NR * NR));
  p.nc_blk = block_size(g.N, nc_max, NR);
  p.nc_pad = (p.nc_blk + NR - 1) / NR * NR;
  p.col_blocks = (g.N + p.nc_blk - 1) / p.nc_blk;
  // Row chunks. A chunk walks all of K, re-reading its C rows once per K block and the column block's
  // packed B once. When that B fits in 3/4 of the L2, small chunks (MC rows) keep C in L2 too; otherwise
  // B streams from L3 once per chunk, so chunks grow until their C rows fill a quarter of the L2
  // (weight gradients, K = 2048: 93 → 86 GFLOP/s with 72-row chunks, measured). At least two chunks
  // per thread per column block even out a slow or late thread.
  int64_t panels = (g.M + MR - 1) / MR;
  int64_t rows = MC_MAX;
  if (g.K * p.nc_pad > L2_FLOATS * 3 / 4) rows = std::max(rows, L2_FLOATS / 4 / p.nc_pad);
  int64_t per = std::max<int64_t>(1, std::min(rows / MR, (panels + 2 * nth - 1) / (2 * nth)));
  p.chunk_rows = per * MR;
  p.row_chunks = (panels + per - 1) / per;
  return p;
}

void packed_chunk(const Gemm& g, const Plan& p, int64_t chunk) {
  int64_t cb = chunk / p.row_chunks, rc = chunk % p.row_chunks;
  int64_t jc = cb * p.nc_blk, nc = std::min(p.nc_blk, g.N - jc);
  int64_t m0 = rc * p.chunk_rows, m1 = std::min(g.M, m0 + p.chunk_rows);
  float* bp = tl_bpack.get(static_cast<size_t>(g.K * p.nc_pad));
  float* ap = tl_apack.get(static_cast<size_t>(p.kc_blk * MC_MAX));
  if (tl_bpack_call != g.id || tl_bpack_block != cb) {
    for (int64_t pc = 0; pc < g.K; pc += p.kc_blk) pack_b(g, jc, nc, pc, std::min(p.kc_blk, g.K - pc), bp + pc * p.nc_pad);
    tl_bpack_call = g.id;
    tl_bpack_block = cb;
  }
  for (int64_t pc = 0; pc < g.K; pc += p.kc_blk) {
    int64_t kc = std::min(p.kc_blk, g.K - pc);
    bool beta = g.accumulate || pc > 0;
    const float* bk = bp + pc * p.nc_pad;
    for (int64_t mb = m0; mb < m1; mb += MC_MAX) {
      int64_t mb_end = std::min(m1, mb + MC_MAX);
      pack_a(g, mb, mb_end, pc, kc, ap);
      for (int64_t ir = mb; ir < mb_end; ir += MR) {
        int mr = static_cast<int>(std::min<int64_t>(MR, mb_end - ir));
        const float* ak = ap + (ir - mb) * kc;
        for (int64_t jr = 0; jr < nc; jr += NR) {
          int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          float* cp = g.c + ir * g.N + jc + jr;
          if (mr == MR && nr == NR) micro_kernel(kc, ak, bk + jr * kc, cp, g.N, beta);
          else edge_kernel(kc, ak, bk + jr * kc, cp, g.N, mr, nr, beta);
        }
      }
    }
  }
}

// ---- small-M path -------------------------------------------------------------------------------
// Rows of op(a) contiguous: a itself when !transA, else gathered into a per-thread [M,K] copy.
const float* a_rows(const Gemm& g) {
  if (!g.transA) return g.a;
  float* r = tl_rows.get(static_cast<size_t>(g.M * g.K));
  if (tl_rows_call != g.id) {
    for (int64_t k = 0; k < g.K; k++)
      for (int64_t i = 0; i < g.M; i++) r[i * g.K + k] = g.a[k * g.M + i];
    tl_rows_call = g.id;
  }
  return r;
}

inline float finish(float* c, float v, bool accumulate) { return accumulate ? *c + v : v; }

// The rows of B [N,K] as L stores them (transB): f32, or halves that L widens as it loads.
template <class L>
const typename L::T* b_rows(const Gemm& g) {
  if constexpr (std::is_same_v<typename L::T, float>) return g.b;
  else return g.bh;
}

// transB: c[i, j] = dot(x_i, b_j) for RB rows × 4 columns at a time (RB·4 vector accumulators, 4+RB
// loads per RB·4 FMAs). x: [RB rows][K], b rows j0.. of [N,K].
template <int RB, class L>
void dots(const Gemm& g, const float* x, int64_t i0, int64_t j0, int64_t j1) {
  const int64_t K = g.K;
  const typename L::T* b = b_rows<L>(g);
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) {
    vf acc[RB][4];
    for (int r = 0; r < RB; r++)
      for (int q = 0; q < 4; q++) acc[r][q] = simd::zero();
    const typename L::T* bj = b + j * K;
    int64_t k = 0;
    for (; k + W <= K; k += W) {
      vf bv[4];
      for (int q = 0; q < 4; q++) bv[q] = L::load(bj + q * K + k);
      for (int r = 0; r < RB; r++) {
        vf xv = simd::load(x + r * K + k);
        for (int q = 0; q < 4; q++) acc[r][q] = simd::fmadd(xv, bv[q], acc[r][q]);
      }
    }
    if (k < K) {
      int n = static_cast<int>(K - k);
      vf bv[4];
      for (int q = 0; q < 4; q++) bv[q] = L::load_n(bj + q * K + k, n);
      for (int r = 0; r < RB; r++) {
        vf xv = simd::load_n(x + r * K + k, n);
        for (int q = 0; q < 4; q++) acc[r][q] = simd::fmadd(xv, bv[q], acc[r][q]);
      }
    }
    for (int r = 0; r < RB; r++) {
      float sums[4];
      hsum4(acc[r], sums);
      float* cp = g.c + (i0 + r) * g.N + j;
      for (int q = 0; q < 4; q++) cp[q] = finish(cp + q, sums[q], g.accumulate);
    }
  }
  for (; j < j1; j++) {  // < 4 leftover columns
    const typename L::T* bj = b + j * K;
    for (int r = 0; r < RB; r++) {
      vf acc = simd::zero();
      int64_t k = 0;
      for (; k + W <= K; k += W) acc = simd::fmadd(simd::load(x + r * K + k), L::load(bj + k), acc);
      if (k < K) {
        int n = static_cast<int>(K - k);
        acc = simd::fmadd(simd::load_n(x + r * K + k, n), L::load_n(bj + k, n), acc);
      }
      float* cp = g.c + (i0 + r) * g.N + j;
      *cp = finish(cp, simd::hsum(acc), g.accumulate);
    }
  }
}

// !transB: c[i, j0:j0+CV·W] = Σ_k x[i,k] · b[k, j0:...] with RB × CV vector accumulators; `tail`
// (< W) columns of the last vector are masked.
template <int RB, int CV>
inline void axpys(const Gemm& g, const float* x, int64_t i0, int64_t j0, int tail) {
  vf acc[RB][CV];
  for (int r = 0; r < RB; r++)
    for (int v = 0; v < CV; v++) acc[r][v] = simd::zero();
  const float* bk = g.b + j0;
  for (int64_t k = 0; k < g.K; k++, bk += g.N) {
    vf bv[CV];
    for (int v = 0; v < CV; v++) bv[v] = tail && v == CV - 1 ? simd::load_n(bk + v * W, tail) : simd::load(bk + v * W);
    for (int r = 0; r < RB; r++) {
      vf xv = simd::set1(x[r * g.K + k]);
      for (int v = 0; v < CV; v++) acc[r][v] = simd::fmadd(xv, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < RB; r++)
    for (int v = 0; v < CV; v++) {
      float* cp = g.c + (i0 + r) * g.N + j0 + v * W;
      bool part = tail && v == CV - 1;
      vf old = g.accumulate ? (part ? simd::load_n(cp, tail) : simd::load(cp)) : simd::zero();
      vf out = g.accumulate ? simd::add(old, acc[r][v]) : acc[r][v];
      if (part) simd::store_n(cp, out, tail);
      else simd::store(cp, out);
    }
}

template <int RB>
void axpy_rows(const Gemm& g, const float* x, int64_t i0, int64_t j0, int64_t j1) {
  constexpr int CV = 4;
  int64_t j = j0;
  for (; j + CV * W <= j1; j += CV * W) axpys<RB, CV>(g, x, i0, j, 0);
  for (; j + W <= j1; j += W) axpys<RB, 1>(g, x, i0, j, 0);
  if (j < j1) axpys<RB, 1>(g, x, i0, j, static_cast<int>(j1 - j));
}

// Σ_k x[k]·b[k] over one contiguous row, left to right with four accumulators (as one vector).
template <class L>
inline vf dot_row(const float* x, const typename L::T* b, int64_t K) {
  vf a0 = simd::zero(), a1 = simd::zero(), a2 = simd::zero(), a3 = simd::zero();
  int64_t k = 0;
  for (; k + 4 * W <= K; k += 4 * W) {
    a0 = simd::fmadd(simd::load(x + k), L::load(b + k), a0);
    a1 = simd::fmadd(simd::load(x + k + W), L::load(b + k + W), a1);
    a2 = simd::fmadd(simd::load(x + k + 2 * W), L::load(b + k + 2 * W), a2);
    a3 = simd::fmadd(simd::load(x + k + 3 * W), L::load(b + k + 3 * W), a3);
  }
  for (; k + W <= K; k += W) a0 = simd::fmadd(simd::load(x + k), L::load(b + k), a0);
  if (k < K) {
    int n = static_cast<int>(K - k);
    a1 = simd::fmadd(simd::load_n(x + k, n), L::load_n(b + k, n), a1);
  }
  return simd::add(simd::add(a0, a1), simd::add(a2, a3));
}

// One row of x (the decode GEMV), transB: c[i0, j] = dot(x, b_j), reading b strictly in memory order.
// Weights used once per token stream from DRAM, and the hardware prefetcher follows one sequential
// stream far better than dots<1>'s four interleaved rows: 21 against 10 GB/s on one Zen 4 core
// (1×256 · 256×688, 200 distinct matrices; a plain streaming read reaches 21).
template <class L>
void dots_one_row(const Gemm& g, const float* x, int64_t i0, int64_t j0, int64_t j1) {
  const int64_t K = g.K;
  const typename L::T* b = b_rows<L>(g);
  float* c = g.c + i0 * g.N;
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) {
    vf acc[4];
    for (int q = 0; q < 4; q++) acc[q] = dot_row<L>(x, b + (j + q) * K, K);
    float sums[4];
    hsum4(acc, sums);
    for (int q = 0; q < 4; q++) c[j + q] = finish(c + j + q, sums[q], g.accumulate);
  }
  for (; j < j1; j++) c[j] = finish(c + j, simd::hsum(dot_row<L>(x, b + j * K, K)), g.accumulate);
}

template <int RB, class L>
void small_rows(const Gemm& g, const float* x, int64_t i0, int64_t j0, int64_t j1) {
  if (g.transB && RB == 1) dots_one_row<L>(g, x, i0, j0, j1);
  else if (g.transB) dots<RB, L>(g, x, i0, j0, j1);
  else axpy_rows<RB>(g, x, i0, j0, j1);
}

// Columns [j0, j1) of every row, rows taken in blocks of up to 4 (B is read once per block).
template <class L>
void gemm_small_cols(const Gemm& g, const float* x, int64_t j0, int64_t j1) {
  for (int64_t i = 0; i < g.M; i += 4) {
    const float* xi = x + i * g.K;
    switch (std::min<int64_t>(4, g.M - i)) {
      case 4: small_rows<4, L>(g, xi, i, j0, j1); break;
      case 3: small_rows<3, L>(g, xi, i, j0, j1); break;
      case 2: small_rows<2, L>(g, xi, i, j0, j1); break;
      default: small_rows<1, L>(g, xi, i, j0, j1); break;
    }
  }
}

// The small-M path for B as stored: f32, bf16 or f16 rows (one instantiation each).
void gemm_small(const Gemm& g, const float* x, int64_t j0, int64_t j1) {
  if (!g.bh) gemm_small_cols<half::F32>(g, x, j0, j1);
  else if (g.bkind == Half::BF16) gemm_small_cols<half::BF16>(g, x, j0, j1);
  else gemm_small_cols<half::F16>(g, x, j0, j1);
}

// ---- driver -------------------------------------------------------------------------------------
int threads_for(int64_t work, int nth, int64_t min_work) {
  int64_t by_work = std::max<int64_t>(1, work / min_work);
  return static_cast<int>(std::min<int64_t>(nth, by_work));
}

std::atomic<uint64_t> g_calls{0};

void gemm(Gemm& g, int nth) {
  if (g.M == 0 || g.N == 0) return;
  if (g.K == 0) {  // empty sum: c = 0, or unchanged when accumulating
    if (!g.accumulate) std::memset(g.c, 0, sizeof(float) * static_cast<size_t>(g.M * g.N));
    return;
  }
  g.id = ++g_calls;
  nth = threads_for(g.M * g.N * g.K, nth, g.M <= SMALL_M ? MIN_WORK_PER_THREAD_SMALL_M : MIN_WORK_PER_THREAD);
  if (g.M <= SMALL_M) {  // chunks of 4W columns (whole dot groups / vector chunks)
    const int64_t unit = 4 * W;
    parallel_dynamic((g.N + unit - 1) / unit, [&](int64_t chunk) {
      int64_t j0 = chunk * unit;
      gemm_small(g, a_rows(g), j0, std::min(g.N, j0 + unit));
    }, nth);
    return;
  }
  Plan p = plan_packed(g, nth);
  parallel_dynamic(p.col_blocks * p.row_chunks, [&](int64_t chunk) { packed_chunk(g, p, chunk); }, nth);
}

bool mul_ok(int64_t x, int64_t y, int64_t* out) { return !__builtin_mul_overflow(x, y, out); }

// M·N, M·K and K·N into mn, mk, kn; fails the call when they (or M·N·K) overflow.
bool checked_sizes(Args& args, const Gemm& g, int64_t* mn, int64_t* mk, int64_t* kn) {
  int64_t mnk;
  if (!mul_ok(g.M, g.N, mn) || !mul_ok(g.M, g.K, mk) || !mul_ok(g.K, g.N, kn) || !mul_ok(*mn, g.K, &mnk)) {
    args.fail("M, N, K too large");
    return false;
  }
  return true;
}

// matmul(c, a, b, M, N, K, transA, transB, accumulate)
napi_value matmul(napi_env env, napi_callback_info info) {
  Args args(env, info, "matmul", 9);
  Gemm g{};
  g.M = args.int_(3);
  g.N = args.int_(4);
  g.K = args.int_(5);
  g.transA = args.boolean(6);
  g.transB = args.boolean(7);
  g.accumulate = args.boolean(8);
  if (!args.ok) return nullptr;
  if (g.transA && g.transB) {
    args.fail("transA && transB is not supported (pass the product the other way round)");
    return nullptr;
  }
  int64_t mn, mk, kn;
  if (!checked_sizes(args, g, &mn, &mk, &kn)) return nullptr;
  g.c = args.f32(0, static_cast<size_t>(mn));
  g.a = args.f32(1, static_cast<size_t>(mk));
  g.b = args.f32(2, static_cast<size_t>(kn));
  if (!args.ok) return nullptr;
  if (overlaps(g.c, mn, g.a, mk) || overlaps(g.c, mn, g.b, kn)) {
    args.fail("c must not overlap a or b");
    return nullptr;
  }
  gemm(g, pool_threads());
  return undefined(env);
}

// matmulHalf(c, a, b, bf16, M, N, K, accumulate): c[M,N] (= or +=) a[M,K] · bᵀ, b [N,K] of halves.
napi_value matmul_half(napi_env env, napi_callback_info info) {
  Args args(env, info, "matmulHalf", 8);
  Gemm g{};
  g.bkind = args.boolean(3) ? Half::BF16 : Half::F16;
  g.M = args.int_(4);
  g.N = args.int_(5);
  g.K = args.int_(6);
  g.accumulate = args.boolean(7);
  g.transB = true;
  if (!args.ok) return nullptr;
  int64_t mn, mk, kn;
  if (!checked_sizes(args, g, &mn, &mk, &kn)) return nullptr;
  g.c = args.f32(0, static_cast<size_t>(mn));
  g.a = args.f32(1, static_cast<size_t>(mk));
  g.bh = args.u16(2, static_cast<size_t>(kn));
  if (!args.ok) return nullptr;
  if (overlaps(g.c, mn, g.a, mk) || overlaps(g.c, mn, g.bh, kn)) {
    args.fail("c must not overlap a or b");
    return nullptr;
  }
  gemm(g, pool_threads());
  return undefined(env);
}

// ---- FMA peak -----------------------------------------------------------------------------------
// Each thread runs 12 independent FMA chains in registers (≥ latency × throughput on Zen 4) for
// `millis`; returns the total GFLOP/s (2 flops per lane per FMA). The ceiling the bench compares to.
void fma_loop(double millis, double* flops_out, double* secs_out) {
  using clock = std::chrono::steady_clock;
  constexpr int CH = 12;
  vf acc[CH];
  for (int i = 0; i < CH; i++) acc[i] = simd::set1(1.0f + 0.001f * i);
  const vf mul = simd::set1(0.999999f), add = simd::set1(1e-6f);
  double iters = 0;
  auto t0 = clock::now();
  double secs = 0;
  do {
    for (int r = 0; r < 4096; r++)
#pragma GCC unroll 12
      for (int i = 0; i < CH; i++) acc[i] = simd::fmadd(acc[i], mul, add);
    iters += 4096;
    secs = std::chrono::duration<double>(clock::now() - t0).count();
  } while (secs * 1e3 < millis);
  vf sum = acc[0];
  for (int i = 1; i < CH; i++) sum = simd::add(sum, acc[i]);
  alignas(64) float lanes[W];
  simd::store(lanes, sum);
  float sink = lanes[0];
  *flops_out = iters * CH * W * 2 + (sink == 12345.0f ? 1 : 0);  // sink keeps the loop alive
  *secs_out = secs;
}

napi_value fma_peak(napi_env env, napi_callback_info info) {
  Args args(env, info, "fmaPeak", 2);
  int64_t threads = args.int_(0);
  double millis = args.num(1);
  if (args.ok && (threads < 1 || !(millis > 0 && millis <= 60000))) args.fail("need threads >= 1 and 0 < millis <= 60000");
  if (!args.ok) return nullptr;
  int nth = static_cast<int>(std::min<int64_t>(threads, pool_threads()));
  std::vector<double> flops(nth), secs(nth);
  parallel([&](int ith, int) { fma_loop(millis, &flops[ith], &secs[ith]); }, nth);
  double total = 0, longest = 0;
  for (int i = 0; i < nth; i++) {
    total += flops[i];
    longest = std::max(longest, secs[i]);
  }
  return number(env, total / longest * 1e-9);
}

}  // namespace

void gemm_f32(float* c, const float* a, const float* b, int64_t M, int64_t N, int64_t K, bool transA,
              bool transB, bool accumulate, int nth) {
  Gemm g{};
  g.c = c;
  g.a = a;
  g.b = b;
  g.M = M;
  g.N = N;
  g.K = K;
  g.transA = transA;
  g.transB = transB;
  g.accumulate = accumulate;
  gemm(g, nth);
}

void gemm_half_nt(float* c, const float* a, const uint16_t* b, Half kind, int64_t M, int64_t N, int64_t K,
                  bool accumulate, int nth) {
  Gemm g{};
  g.c = c;
  g.a = a;
  g.bh = b;
  g.bkind = kind;
  g.M = M;
  g.N = N;
  g.K = K;
  g.transB = true;
  g.accumulate = accumulate;
  gemm(g, nth);
}

void register_gemm(napi_env env, napi_value exports) {
  export_fn(env, exports, "matmul", matmul);
  export_fn(env, exports, "matmulHalf", matmul_half);
  export_fn(env, exports, "fmaPeak", fma_peak);
}

}  // namespace moekit
