// Attention of Tq new query rows against a KV cache (inference only, no saved probabilities).
//   q [Tq, nh·dk] at positions start .. start+Tq−1; kcache [≥ start+Tq, nkv·dk]; vcache [≥ start+Tq, nkv·dv];
//   out [Tq, nh·dv]. Query row i sees keys 0 .. start+i (causal); query head h reads kv head
//   g = h / (nh/nkv) = floor(h·nkv/nh). dk may differ from dv (MLA); scale is the caller's (1/sqrt(dk)
//   for LLaMA, MLA's own for DeepSeek).
// Contract: src/backend/backend.ts (cachedAttentionForward).
//
// Per query row and head: s_j = scale·q·k_j, p = softmax(s), out = Σ_j p_j·v_j. One unit of work is a
// query row and up to four heads of one kv group (which share every K and V row they read); a unit is
// computed the same way whichever thread runs it, so results are bit-identical for any thread count. Decode
// (Tq = 1) is a few thousand FMAs per head: it runs on the calling thread unless the work is large
// enough to pay for waking a worker, and uses only thread-local scratch that grows to the longest
// context seen (no allocation per call in steady state).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"
#include "simd.h"

namespace moekit {
namespace {

using namespace simd;

// Below this many multiply-adds a call stays on the calling thread (a handful of µs of work, about what
// handing half of it to a worker costs). A decode step of the bench model at 256 positions is 4 heads ×
// 256 keys × 128 = 2^17: threaded, since its K/V rows usually come from L3 or DRAM, not from L1.
constexpr int64_t kThreadedWork = 1 << 17;

struct CachedDims {
  int64_t Tq, start, nh, nkv, dk, dv;
  float scale;
};

// Scores of the calling thread, kept between calls (grown, never shrunk).
float* score_scratch(int64_t n) {
  thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(n);
  return buf.data();
}

// Query heads of one kv group handled together: every K and V row read from memory serves all of them
// (GQA: Mixtral's 32 query heads read 8 kv heads).
constexpr int HB = 4;

// s[r·ls + j] = scale·q_r·k_j for heads r < R (q_r = q + r·qs) and keys j < n (k_j = k + j·ks): four
// keys at a time, so 4·R independent FMA chains run side by side and hsum4 finishes four at once.
// A head's scores do not depend on R: every (head, key) sums over d in the same order.
template <int R>
void key_scores(float* s, int64_t ls, const float* q, int64_t qs, const float* k, int64_t ks, int64_t n, int64_t dk,
                float scale) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    vf acc[R][4];
    for (int r = 0; r < R; r++)
      for (int c = 0; c < 4; c++) acc[r][c] = zero();
    const float* kj = k + j * ks;
    vec_loop(0, dk, [&](int64_t d, int m) {
      vf kv[4];
      for (int c = 0; c < 4; c++) kv[c] = load_n(kj + c * ks + d, m);
      for (int r = 0; r < R; r++) {
        vf qv = load_n(q + r * qs + d, m);
        for (int c = 0; c < 4; c++) acc[r][c] = fmadd(qv, kv[c], acc[r][c]);
      }
    });
    for (int r = 0; r < R; r++) {
      float sums[4];
      hsum4(acc[r], sums);
      for (int c = 0; c < 4; c++) s[r * ls + j + c] = scale * sums[c];
    }
  }
  for (; j < n; j++)
    for (int r = 0; r < R; r++) s[r * ls + j] = scale * dot(q + r * qs, k + j * ks, dk);
}

// o[r·os + :dv] = Σ_{j<n} p[r·ls + j]·x[j·xs + :dv] for heads r < R: each row of x is loaded once for all
// R heads. Every output element sums over j in order, so a head's result does not depend on R either.
template <int R>
void weighted_rows(float* o, int64_t os, const float* p, int64_t ls, const float* x, int64_t xs, int64_t n,
                   int64_t dv) {
  constexpr int NV = R <= 2 ? 4 : 2;  // R·NV accumulators stay in registers
  int64_t d = 0;
  for (; d + NV * W <= dv; d += NV * W) {
    vf acc[R][NV];
    for (int r = 0; r < R; r++)
      for (int c = 0; c < NV; c++) acc[r][c] = zero();
    for (int64_t j = 0; j < n; j++) {
      vf xv[NV];
      for (int c = 0; c < NV; c++) xv[c] = load(x + j * xs + d + c * W);
      for (int r = 0; r < R; r++) {
        vf pj = set1(p[r * ls + j]);
        for (int c = 0; c < NV; c++) acc[r][c] = fmadd(pj, xv[c], acc[r][c]);
      }
    }
    for (int r = 0; r < R; r++)
      for (int c = 0; c < NV; c++) store(o + r * os + d + c * W, acc[r][c]);
  }
  for (; d < dv; d += W) {  // leftover columns, one vector (partial at the end)
    int m = dv - d < W ? static_cast<int>(dv - d) : W;
    vf acc[R];
    for (int r = 0; r < R; r++) acc[r] = zero();
    for (int64_t j = 0; j < n; j++) {
      vf xv = load_n(x + j * xs + d, m);
      for (int r = 0; r < R; r++) acc[r] = fmadd(set1(p[r * ls + j]), xv, acc[r]);
    }
    for (int r = 0; r < R; r++) store_n(o + r * os + d, acc[r], m);
  }
}

// Heads h0 .. h0+R−1 (one kv group) of query row i: scores, softmax, weighted sum of the values.
template <int R>
void heads_block(float* out, const float* q, const float* kc, const float* vc, const CachedDims& s, int64_t i,
                 int64_t h0, int64_t g) {
  const int64_t n = s.start + i + 1;
  float* p = score_scratch(R * n);  // [R, n]
  key_scores<R>(p, n, q + (i * s.nh + h0) * s.dk, s.dk, kc + g * s.dk, s.nkv * s.dk, n, s.dk, s.scale);
  float inv[R];
  for (int r = 0; r < R; r++) inv[r] = 1.0f / exp_shift_store(p + r * n, p + r * n, n, reduce_max(p + r * n, n));
  float* o = out + (i * s.nh + h0) * s.dv;
  weighted_rows<R>(o, s.dv, p, n, vc + g * s.dv, s.nkv * s.dv, n, s.dv);
  for (int r = 0; r < R; r++) {
    vf v = set1(inv[r]);
    vec_loop(0, s.dv, [&](int64_t d, int m) { store_n(o + r * s.dv + d, mul(load_n(o + r * s.dv + d, m), v), m); });
  }
}

void cached_attention(float* out, const float* q, const float* kc, const float* vc, const CachedDims& s) {
  const int64_t rep = s.nh / s.nkv, blocks = (rep + HB - 1) / HB;
  const int64_t units = s.Tq * s.nkv * blocks;  // (query row, kv group, block of ≤ HB of its heads)
  // Keys seen summed over rows: Tq·start + Tq(Tq+1)/2, each costing dk + dv multiply-adds per head.
  const int64_t work = (s.Tq * s.start + s.Tq * (s.Tq + 1) / 2) * s.nh * (s.dk + s.dv);
  parallel_dynamic(units, [&](int64_t u) {
    const int64_t i = u / (s.nkv * blocks), g = u / blocks % s.nkv, b = u % blocks;
    const int64_t h0 = g * rep + b * HB;
    switch (std::min<int64_t>(HB, (g + 1) * rep - h0)) {
      case 4: heads_block<4>(out, q, kc, vc, s, i, h0, g); break;
      case 3: heads_block<3>(out, q, kc, vc, s, i, h0, g); break;
      case 2: heads_block<2>(out, q, kc, vc, s, i, h0, g); break;
      default: heads_block<1>(out, q, kc, vc, s, i, h0, g); break;
    }
  }, units > 1 && work >= kThreadedWork ? -1 : 1);
}

napi_value cachedAttentionForward(napi_env env, napi_callback_info info) {
  // (out, q, kcache, vcache, Tq, start, nh, nkv, dk, dv, scale)
  Args a(env, info, "cachedAttentionForward", 11);
  CachedDims s;
  s.Tq = a.int_(4);
  s.start = a.int_(5);
  s.nh = a.int_(6);
  s.nkv = a.int_(7);
  s.dk = a.int_(8);
  s.dv = a.int_(9);
  s.scale = static_cast<float>(a.num(10));
  if (a.ok && (s.nkv == 0 || s.nh % s.nkv != 0)) {
    a.fail("nh = " + std::to_string(s.nh) + " must be a multiple of nkv = " + std::to_string(s.nkv) + " >= 1");
  }
  if (a.ok && (s.dk == 0 || s.dv == 0)) a.fail("dk and dv must be >= 1");
  if (!a.ok) return nullptr;
  const int64_t Tk = s.start + s.Tq;
  float* out = a.f32(0, s.Tq * s.nh * s.dv);
  const float* q = a.f32(1, s.Tq * s.nh * s.dk);
  const float* kc = a.f32(2, Tk * s.nkv * s.dk);
  const float* vc = a.f32(3, Tk * s.nkv * s.dv);
  if (!a.ok) return nullptr;
  if (s.Tq > 0) cached_attention(out, q, kc, vc, s);
  return undefined(env);
}

}  // namespace

void register_attention_cached(napi_env env, napi_value exports) {
  export_fn(env, exports, "cachedAttentionForward", cachedAttentionForward);
}

}  // namespace moekit
