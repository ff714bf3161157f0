// Causal self-attention with grouped-query heads (GQA), scale 1/sqrt(hd).
//   q [B,T,nh,hd], k and v [B,T,nkv,hd], out [B,T,nh,hd], att [B,nh,T,T]; query head h reads kv head
//   g = h / (nh/nkv). att holds the softmax probabilities (zeros above the diagonal) for the backward.
// Contract: src/backend/backend.ts (forward overwrites, backward accumulates).
//
// Queries are processed 4 rows at a time, so that every key or value row loaded from cache feeds 4
// rows of FMAs (one row at a time is bound by L2 bandwidth, not by the FMAs). The two products are:
//   scores: S[r, j] = Σ_d Q[r, d]·K[j, d]  with K packed transposed in tiles of KB keys (pack_keys),
//           W keys per vector, Q broadcast;
//   rows:   O[r, :] += Σ_j w(r, j)·X[j, :]  over hd, weights broadcast.
#include <cmath>
#include <cstring>
#include <vector>

#include "common.h"
#include "simd.h"

namespace moekit {
namespace {

using namespace simd;

constexpr int RB = 4;                   // query rows per block
constexpr int NV = W >= 16 ? 4 : 2;     // vectors per tile: RB·NV accumulators fit the register file
constexpr int64_t KB = NV * W;          // keys per packed tile

struct Dims {
  int64_t B, T, nh, nkv, hd;
  int64_t rep() const { return nh / nkv; }  // query heads per kv head
};

int64_t key_tiles(int64_t T) { return (T + KB - 1) / KB; }
// Row stride of score scratch: whole tiles, plus one vector so rows do not alias in cache sets.
int64_t score_ld(int64_t T) { return key_tiles(T) * KB + W; }

// kp[(tile·hd + d)·KB + i] = x[(tile·KB + i)·stride + d], zero past T: each tile is a contiguous [hd, KB].
void pack_keys(float* kp, const float* x, int64_t stride, int64_t T, int64_t hd) {
  for (int64_t tile = 0; tile < key_tiles(T); tile++) {
    for (int64_t d = 0; d < hd; d++) {
      float* dst = kp + (tile * hd + d) * KB;
      for (int64_t i = 0; i < KB; i++) {
        int64_t j = tile * KB + i;
        dst[i] = j < T ? x[j * stride + d] : 0.0f;
      }
    }
  }
}

// s[r·ls + j] = Σ_d q[r·qs + d]·key_j[d] for r < R and j in [0, n) (written to the end of n's tile).
template <int R>
void scores(float* s, int64_t ls, const float* q, int64_t qs, const float* kp, int64_t hd, int64_t n) {
  for (int64_t tile = 0; tile < key_tiles(n); tile++) {
    const float* k = kp + tile * hd * KB;
    vf acc[R][NV];
    for (int r = 0; r < R; r++)
      for (int c = 0; c < NV; c++) acc[r][c] = zero();
    for (int64_t d = 0; d < hd; d++, k += KB) {
      vf kv[NV];
      for (int c = 0; c < NV; c++) kv[c] = load(k + c * W);
      for (int r = 0; r < R; r++) {
        vf qd = set1(q[r * qs + d]);
        for (int c = 0; c < NV; c++) acc[r][c] = fmadd(qd, kv[c], acc[r][c]);
      }
    }
    for (int r = 0; r < R; r++)
      for (int c = 0; c < NV; c++) store(s + r * ls + tile * KB + c * W, acc[r][c]);
  }
}

// o[r·os + :hd] += Σ_{j<n} w[r·wr + j·wj]·x[j·xs + :hd] for r < R.
template <int R>
void rows(float* o, int64_t os, const float* w, int64_t wr, int64_t wj, const float* x, int64_t xs, int64_t n,
          int64_t hd) {
  int64_t d = 0;
  for (; d + NV * W <= hd; d += NV * W) {
    vf acc[R][NV];
    for (int r = 0; r < R; r++)
      for (int c = 0; c < NV; c++) acc[r][c] = zero();
    for (int64_t j = 0; j < n; j++) {
      vf xv[NV];
      for (int c = 0; c < NV; c++) xv[c] = load(x + j * xs + d + c * W);
      for (int r = 0; r < R; r++) {
        vf wv = set1(w[r * wr + j * wj]);
        for (int c = 0; c < NV; c++) acc[r][c] = fmadd(wv, xv[c], acc[r][c]);
      }
    }
    for (int r = 0; r < R; r++)
      for (int c = 0; c < NV; c++) store(o + r * os + d + c * W, add(load(o + r * os + d + c * W), acc[r][c]));
  }
  for (; d < hd; d += W) {  // leftover columns, one vector
    int m = hd - d < W ? static_cast<int>(hd - d) : W;
    vf acc[R];
    for (int r = 0; r < R; r++) acc[r] = zero();
    for (int64_t j = 0; j < n; j++) {
      vf xv = load_n(x + j * xs + d, m);
      for (int r = 0; r < R; r++) acc[r] = fmadd(set1(w[r * wr + j * wj]), xv, acc[r]);
    }
    for (int r = 0; r < R; r++) store_n(o + r * os + d, add(load_n(o + r * os + d, m), acc[r]), m);
  }
}

// Runtime R in [1, RB] to the templates.
void scores_n(int R, float* s, int64_t ls, const float* q, int64_t qs, const float* kp, int64_t hd, int64_t n) {
  switch (R) {
    case 4: scores<4>(s, ls, q, qs, kp, hd, n); break;
    case 3: scores<3>(s, ls, q, qs, kp, hd, n); break;
    case 2: scores<2>(s, ls, q, qs, kp, hd, n); break;
    default: scores<1>(s, ls, q, qs, kp, hd, n); break;
  }
}

void rows_n(int R, float* o, int64_t os, const float* w, int64_t wr, int64_t wj, const float* x, int64_t xs,
            int64_t n, int64_t hd) {
  switch (R) {
    case 4: rows<4>(o, os, w, wr, wj, x, xs, n, hd); break;
    case 3: rows<3>(o, os, w, wr, wj, x, xs, n, hd); break;
    case 2: rows<2>(o, os, w, wr, wj, x, xs, n, hd); break;
    default: rows<1>(o, os, w, wr, wj, x, xs, n, hd); break;
  }
}

// Scratch of the calling thread, kept between calls: (b, head) units go to whichever thread is free
// (parallel_dynamic), and every unit writes the scratch it reads.
float* scratch(int64_t n) {
  thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(n);
  return buf.data();
}

int threads_for(int64_t units, const Dims& s) { return units > 1 && units * s.T * s.T * s.hd >= (1 << 16) ? -1 : 1; }

// ---- forward --------------------------------------------------------------------------------------
// Per (b, h), for each query t: s = scale·q_t·k_j (j <= t), att_t = softmax(s), out_t = Σ_j att_tj·v_j.
// A block of R queries t0..t0+R-1 scores keys j < t0+R; the rows' entries above the diagonal are
// dropped by the softmax (written as 0), so the block's weighted sum over j < t0+R is exact.
void attention_forward(float* out, float* att, const float* q, const float* k, const float* v, const Dims& s) {
  const int64_t T = s.T, hd = s.hd, units = s.B * s.nh, ls = score_ld(T);
  const int64_t qstride = s.nh * hd, kvstride = s.nkv * hd;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  parallel_dynamic(units, [&](int64_t u) {
    float* kp = scratch(key_tiles(T) * KB * hd + RB * ls + RB * hd);
    float* sc = kp + key_tiles(T) * KB * hd;
    float* qs = sc + RB * ls;
    int64_t b = u / s.nh, h = u % s.nh, g = h / s.rep();
    const float* vb = v + b * T * kvstride + g * hd;
    float* ab = att + (b * s.nh + h) * T * T;
    pack_keys(kp, k + b * T * kvstride + g * hd, kvstride, T, hd);
    for (int64_t t0 = 0; t0 < T; t0 += RB) {
      int R = T - t0 < RB ? static_cast<int>(T - t0) : RB;
      int64_t n = t0 + R;
      float* o = out + (b * T + t0) * qstride + h * hd;
      for (int r = 0; r < R; r++) {
        const float* qr = q + (b * T + t0 + r) * qstride + h * hd;
        for (int64_t d = 0; d < hd; d++) qs[r * hd + d] = qr[d] * scale;
      }
      scores_n(R, sc, ls, qs, hd, kp, hd, n);
      for (int r = 0; r < R; r++) {
        int64_t nr = t0 + r + 1;
        const float* sr = sc + r * ls;
        float* ar = ab + (t0 + r) * T;
        float inv = 1.0f / exp_shift_store(ar, sr, nr, reduce_max(sr, nr));
        for (int64_t j = 0; j < nr; j++) ar[j] *= inv;
        std::memset(ar + nr, 0, (T - nr) * sizeof(float));
        std::memset(o + r * qstride, 0, hd * sizeof(float));
      }
      rows_n(R, o, qstride, ab + t0 * T, T, 1, vb, kvstride, n, hd);
    }
  }, threads_for(units, s));
}

// ---- backward -------------------------------------------------------------------------------------
// With P = att (row t), S_tj = scale·q_t·k_j and out_t = Σ_j P_tj v_j:
//   dP_tj = dout_t·v_j
//   dS_tj = P_tj·(dP_tj − Σ_i P_ti·dP_ti)                (softmax backward; 0 above the diagonal)
//   dq_t += scale·Σ_j dS_tj·k_j,  dk_j += scale·Σ_t dS_tj·q_t,  dv_j += Σ_t P_tj·dout_t
// Per head, a first pass over query blocks computes scale·dS (kept as a [T, T] scratch) and dq; a second
// pass over key blocks reads dS and P by columns and forms dk and dv, each row written once per head.
// Work is split by (b, kv head): all query heads of a group run on one thread, so no two threads write
// the same dk/dv element, and each element sums its terms in a fixed order (the same for any number
// of threads).
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const float* att, const Dims& s) {
  const int64_t T = s.T, hd = s.hd, units = s.B * s.nkv, ls = score_ld(T);
  const int64_t qstride = s.nh * hd, kvstride = s.nkv * hd;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  parallel_dynamic(units, [&](int64_t u) {
    float* vp = scratch(key_tiles(T) * KB * hd + RB * ls + T * ls);
    float* dp = vp + key_tiles(T) * KB * hd;
    float* ds = dp + RB * ls;
    int64_t b = u / s.nkv, g = u % s.nkv;
    const float* kb = k + b * T * kvstride + g * hd;
    float* dkb = dk + b * T * kvstride + g * hd;
    float* dvb = dv + b * T * kvstride + g * hd;
    pack_keys(vp, v + b * T * kvstride + g * hd, kvstride, T, hd);
    for (int64_t h = g * s.rep(); h < (g + 1) * s.rep(); h++) {
      const float* ab = att + (b * s.nh + h) * T * T;
      const float* qb = q + b * T * qstride + h * hd;
      const float* dob = dout + b * T * qstride + h * hd;
      for (int64_t t0 = 0; t0 < T; t0 += RB) {  // query blocks: dS rows, dq
        int R = T - t0 < RB ? static_cast<int>(T - t0) : RB;
        int64_t n = t0 + R;
        scores_n(R, dp, ls, dob + t0 * qstride, qstride, vp, hd, n);
        for (int r = 0; r < R; r++) {
          const float* P = ab + (t0 + r) * T;
          const float* dpr = dp + r * ls;
          float* dsr = ds + (t0 + r) * ls;
          vf D = set1(dot(P, dpr, n)), vs = set1(scale);
          vec_loop(0, n, [&](int64_t j, int m) {
            store_n(dsr + j, mul(mul(load_n(P + j, m), sub(load_n(dpr + j, m), D)), vs), m);
          });
        }
        rows_n(R, dq + (b * T + t0) * qstride + h * hd, qstride, ds + t0 * ls, ls, 1, kb, kvstride, n, hd);
      }
      for (int64_t j0 = 0; j0 < T; j0 += RB) {  // key blocks: queries t >= j0 only (dS, P are 0 above)
        int R = T - j0 < RB ? static_cast<int>(T - j0) : RB;
        int64_t m = T - j0;
        rows_n(R, dkb + j0 * kvstride, kvstride, ds + j0 * ls + j0, 1, ls, qb + j0 * qstride, qstride, m, hd);
        rows_n(R, dvb + j0 * kvstride, kvstride, ab + j0 * T + j0, 1, T, dob + j0 * qstride, qstride, m, hd);
      }
    }
  }, threads_for(units, s));
}

// ---- N-API ----------------------------------------------------------------------------------------

bool read_dims(Args& a, size_t first, Dims* s) {
  s->B = a.int_(first);
  s->T = a.int_(first + 1);
  s->nh = a.int_(first + 2);
  s->nkv = a.int_(first + 3);
  s->hd = a.int_(first + 4);
  if (a.ok && (s->nkv == 0 || s->nh % s->nkv != 0)) {
    a.fail("nh = " + std::to_string(s->nh) + " must be a multiple of nkv = " + std::to_string(s->nkv) + " >= 1");
  }
  if (a.ok && s->hd == 0) a.fail("hd must be >= 1");
  return a.ok;
}

napi_value attentionForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "attentionForward", 10);  // (out, att, q, k, v, B, T, nh, nkv, hd)
  Dims s;
  if (!read_dims(a, 5, &s)) return nullptr;
  int64_t nq = s.B * s.T * s.nh * s.hd, nkv = s.B * s.T * s.nkv * s.hd;
  float* out = a.f32(0, nq);
  float* att = a.f32(1, s.B * s.nh * s.T * s.T);
  const float* q = a.f32(2, nq);
  const float* k = a.f32(3, nkv);
  const float* v = a.f32(4, nkv);
  if (!a.ok) return nullptr;
  attention_forward(out, att, q, k, v, s);
  return undefined(env);
}

napi_value attentionBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "attentionBackward", 13);  // (dq, dk, dv, dout, q, k, v, att, B, T, nh, nkv, hd)
  Dims s;
  if (!read_dims(a, 8, &s)) return nullptr;
  int64_t nq = s.B * s.T * s.nh * s.hd, nkv = s.B * s.T * s.nkv * s.hd;
  float* dq = a.f32(0, nq);
  float* dk = a.f32(1, nkv);
  float* dv = a.f32(2, nkv);
  const float* dout = a.f32(3, nq);
  const float* q = a.f32(4, nq);
  const float* k = a.f32(5, nkv);
  const float* v = a.f32(6, nkv);
  const float* att = a.f32(7, s.B * s.nh * s.T * s.T);
  if (!a.ok) return nullptr;
  attention_backward(dq, dk, dv, dout, q, k, v, att, s);
  return undefined(env);
}

}  // namespace

void register_attention(napi_env env, napi_value exports) {
  export_fn(env, exports, "attentionForward", attentionForward);
  export_fn(env, exports, "attentionBackward", attentionBackward);
}

}  // namespace moekit
