// Attention of Tq new query rows against a KV cache (inference only, no saved probabilities).
//   q [Tq, nh·dk] at positions start .. start+Tq−1; kcache [≥ start+Tq, nkv·dk]; vcache [≥ start+Tq, nkv·dv];
//   out [Tq, nh·dv]. Query row i sees keys 0 .. start+i (causal); query head h reads kv head
//   g = h / (nh/nkv) = floor(h·nkv/nh). dk may differ from dv (MLA); scale is the caller's (1/sqrt(dk)
//   for LLaMA, MLA's own for DeepSeek).
// Contract: src/backend/backend.ts (cachedAttentionForward).
//
// Per query row and head: s_j = scale·q·k_j, p = softmax(s), out = Σ_j p_j·v_j, over chunks of keys
// (see KC). A unit of work is computed the same way whichever thread runs it and the chunks are merged
// in a fixed order on the calling thread, so results are bit-identical for any thread count. Decode
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
// 256 keys × 128 = 2^17 (two chunks): threaded, since its K/V rows usually come from L3 or DRAM.
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

// Keys per chunk. Every query row's keys are cut into chunks of KC (a fixed size, so the arithmetic does
// not depend on the thread count); a chunk is one unit of work over all heads, and the chunks of a row
// are merged afterwards (online softmax: Milakov & Gimelshein 2018).
constexpr int64_t KC = 128;

// One chunk of query row i, keys [j0, j1), every head: per head h the chunk's max score m_h, Σ e^(s−m_h)
// l_h and o_h = Σ_j e^(s_j−m_h)·v_j, written to part = [m (nh), l (nh), o (nh·dv)].
// K and V rows are read in memory order, all heads of a row together: a head-by-head walk over the
// cache strides through memory and reads it from DRAM at half the speed of a sequential pass.
void chunk(float* part, const float* q, const float* kc, const float* vc, const CachedDims& s, int64_t i, int64_t j0,
           int64_t j1) {
  const int64_t nh = s.nh, dk = s.dk, dv = s.dv, rep = s.nh / s.nkv, ks = s.nkv * dk, vs = s.nkv * dv, m = j1 - j0;
  float* sc = score_scratch(nh * KC);  // [nh, KC] scores, then e^(s − m_h)
  const float* qi = q + i * nh * dk;
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) {  // four keys per reduction (hsum4), every head of the four rows
    const float* kj = kc + j * ks;
    for (int64_t h = 0; h < nh; h++) {
      const float* qh = qi + h * dk;
      const float* kh = kj + (h / rep) * dk;
      vf acc[4] = {zero(), zero(), zero(), zero()};
      vec_loop(0, dk, [&](int64_t d, int w) {
        vf qv = load_n(qh + d, w);
        for (int r = 0; r < 4; r++) acc[r] = fmadd(qv, load_n(kh + r * ks + d, w), acc[r]);
      });
      float sums[4];
      hsum4(acc, sums);
      for (int r = 0; r < 4; r++) sc[h * KC + j - j0 + r] = s.scale * sums[r];
    }
  }
  for (; j < j1; j++)
    for (int64_t h = 0; h < nh; h++) sc[h * KC + j - j0] = s.scale * dot(qi + h * dk, kc + j * ks + (h / rep) * dk, dk);
  float* mx = part;
  float* l = part + nh;
  float* o = part + 2 * nh;  // [nh, dv]
  for (int64_t h = 0; h < nh; h++) {
    mx[h] = reduce_max(sc + h * KC, m);
    l[h] = exp_shift_store(sc + h * KC, sc + h * KC, m, mx[h]);
  }
  std::memset(o, 0, nh * dv * sizeof(float));
  for (j = j0; j < j1; j++) {
    const float* vj = vc + j * vs;
    for (int64_t h = 0; h < nh; h++) {
      vf p = set1(sc[h * KC + j - j0]);
      const float* vh = vj + (h / rep) * dv;
      float* oh = o + h * dv;
      vec_loop(0, dv, [&](int64_t d, int w) { store_n(oh + d, fmadd(p, load_n(vh + d, w), load_n(oh + d, w)), w); });
    }
  }
}

void cached_attention(float* out, const float* q, const float* kc, const float* vc, const CachedDims& s) {
  const int64_t nh = s.nh, dv = s.dv, part_size = nh * (dv + 2);
  const int64_t chunks = (s.start + s.Tq + KC - 1) / KC;  // of the last row, the longest
  // Partial results of every (row, chunk), on the calling thread (grown, never shrunk).
  thread_local std::vector<float> parts_buf;
  if (static_cast<int64_t>(parts_buf.size()) < s.Tq * chunks * part_size) parts_buf.resize(s.Tq * chunks * part_size);
  float* parts = parts_buf.data();
  // Keys seen summed over rows: Tq·start + Tq(Tq+1)/2, each costing dk + dv multiply-adds per head.
  const int64_t work = (s.Tq * s.start + s.Tq * (s.Tq + 1) / 2) * nh * (s.dk + dv);
  const int64_t units = s.Tq * chunks;
  parallel_dynamic(units, [&](int64_t u) {
    const int64_t i = u / chunks, c = u % chunks, n = s.start + i + 1;
    if (c * KC < n) chunk(parts + u * part_size, q, kc, vc, s, i, c * KC, std::min(n, (c + 1) * KC));
  }, units > 1 && work >= kThreadedWork ? -1 : 1);
  // Merge each row's chunks in order: out_h = Σ_c e^(m_c − M)·o_c / Σ_c e^(m_c − M)·l_c, M = max_c m_c.
  for (int64_t i = 0; i < s.Tq; i++) {
    const int64_t rc = (s.start + i + 1 + KC - 1) / KC;
    const float* row = parts + i * chunks * part_size;
    for (int64_t h = 0; h < nh; h++) {
      float M = row[h];
      for (int64_t c = 1; c < rc; c++) M = std::max(M, row[c * part_size + h]);
      float L = 0;
      for (int64_t c = 0; c < rc; c++) L += std::exp(row[c * part_size + h] - M) * row[c * part_size + nh + h];
      float* oh = out + (i * nh + h) * dv;
      for (int64_t c = 0; c < rc; c++) {
        vf w = set1(std::exp(row[c * part_size + h] - M) / L);
        const float* oc = row + c * part_size + 2 * nh + h * dv;
        vec_loop(0, dv, [&](int64_t d, int m) {
          store_n(oh + d, c == 0 ? mul(w, load_n(oc + d, m)) : fmadd(w, load_n(oc + d, m), load_n(oh + d, m)), m);
        });
      }
    }
  }
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
