// Attention of Tq new query rows against a KV cache (inference only, no saved probabilities).
//   q [Tq, nh·dk] at positions start .. start+Tq−1; kcache [≥ start+Tq, nkv·dk]; vcache [≥ start+Tq, nkv·dv];
//   out [Tq, nh·dv]. Query row i sees keys 0 .. start+i (causal); query head h reads kv head
//   g = h / (nh/nkv) = floor(h·nkv/nh). dk may differ from dv (MLA); scale is the caller's (1/sqrt(dk)
//   for LLaMA, MLA's own for DeepSeek).
// Contract: src/backend/backend.ts (cachedAttentionForward).
//
// One unit = (query row, head): s_j = scale·q·k_j, p = softmax(s), out = Σ_j p_j·v_j. A unit is computed
// the same way whichever thread runs it, so results are bit-identical for any thread count. Decode
// (Tq = 1) is a few thousand FMAs per head: it runs on the calling thread unless the work is large
// enough to pay for waking a worker, and uses only thread-local scratch that grows to the longest
// context seen (no allocation per call in steady state).
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

// s[j] = scale·q·k_j for j < n, keys k_j = k + j·ks: four keys at a time, so four independent FMA chains
// run side by side and one combined reduction (hsum4) finishes them.
void key_scores(float* s, const float* q, const float* k, int64_t ks, int64_t n, int64_t dk, float scale) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    vf acc[4] = {zero(), zero(), zero(), zero()};
    const float* kj = k + j * ks;
    vec_loop(0, dk, [&](int64_t d, int m) {
      vf qv = load_n(q + d, m);
      for (int r = 0; r < 4; r++) acc[r] = fmadd(qv, load_n(kj + r * ks + d, m), acc[r]);
    });
    float sums[4];
    hsum4(acc, sums);
    for (int r = 0; r < 4; r++) s[j + r] = scale * sums[r];
  }
  for (; j < n; j++) s[j] = scale * dot(q, k + j * ks, dk);
}

// o[0, dv) = Σ_{j<n} p[j]·x[j·xs + :dv], NV vectors of columns at a time so each p[j] feeds NV FMAs.
void weighted_rows(float* o, const float* p, const float* x, int64_t xs, int64_t n, int64_t dv) {
  constexpr int NV = 4;
  int64_t d = 0;
  for (; d + NV * W <= dv; d += NV * W) {
    vf acc[NV];
    for (int c = 0; c < NV; c++) acc[c] = zero();
    for (int64_t j = 0; j < n; j++) {
      vf pj = set1(p[j]);
      const float* xr = x + j * xs + d;
      for (int c = 0; c < NV; c++) acc[c] = fmadd(pj, load(xr + c * W), acc[c]);
    }
    for (int c = 0; c < NV; c++) store(o + d + c * W, acc[c]);
  }
  for (; d < dv; d += W) {  // leftover columns, one vector (partial at the end)
    int m = dv - d < W ? static_cast<int>(dv - d) : W;
    vf acc = zero();
    for (int64_t j = 0; j < n; j++) acc = fmadd(set1(p[j]), load_n(x + j * xs + d, m), acc);
    store_n(o + d, acc, m);
  }
}

void cached_attention(float* out, const float* q, const float* kc, const float* vc, const CachedDims& s) {
  const int64_t rep = s.nh / s.nkv, kstride = s.nkv * s.dk, vstride = s.nkv * s.dv;
  const int64_t units = s.Tq * s.nh;
  // Keys seen summed over rows: Tq·start + Tq(Tq+1)/2, each costing dk + dv multiply-adds per head.
  const int64_t work = (s.Tq * s.start + s.Tq * (s.Tq + 1) / 2) * s.nh * (s.dk + s.dv);
  parallel_dynamic(units, [&](int64_t u) {
    const int64_t i = u / s.nh, h = u % s.nh, g = h / rep, n = s.start + i + 1;
    const float* qr = q + i * s.nh * s.dk + h * s.dk;
    const float* kb = kc + g * s.dk;
    float* p = score_scratch(n);
    key_scores(p, qr, kb, kstride, n, s.dk, s.scale);
    float inv = 1.0f / exp_shift_store(p, p, n, reduce_max(p, n));
    float* o = out + i * s.nh * s.dv + h * s.dv;
    weighted_rows(o, p, vc + g * s.dv, vstride, n, s.dv);
    vec_loop(0, s.dv, [&](int64_t d, int m) { store_n(o + d, mul(load_n(o + d, m), set1(inv)), m); });
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
