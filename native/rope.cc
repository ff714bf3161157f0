// Rotary position embedding, rotate-half convention (HF LLaMA). For j < hd/2 and θ = pos·theta^(-2j/hd):
//   out[j] = x[j]·cos − x[j+hd/2]·sin,  out[j+hd/2] = x[j+hd/2]·cos + x[j]·sin
// Contract: src/backend/backend.ts (forward overwrites and may run in place, backward accumulates).
#include "common.h"
#include "simd.h"

namespace moekit {
namespace {

using namespace simd;

constexpr int64_t kPerThread = 1 << 15;  // elements

// out, x [R,H,hd]; cos, sin [maxPos, hd/2]; pos[R]. Both halves are loaded before either is stored,
// so out may alias x.
void rope_forward(float* out, const float* x, const float* cos, const float* sin, const int32_t* pos,
                  int64_t R, int64_t H, int64_t hd) {
  int64_t half = hd / 2;
  parallel([&](int ith, int nth) {
    int64_t r0, r1;
    split_range(R, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
      const float* c = cos + pos[r] * half;
      const float* s = sin + pos[r] * half;
      for (int64_t h = 0; h < H; h++) {
        const float* xr = x + (r * H + h) * hd;
        float* o = out + (r * H + h) * hd;
        vec_loop(0, half, [&](int64_t j, int n) {
          vf vc = load_n(c + j, n), vs = load_n(s + j, n);
          vf a = load_n(xr + j, n), b = load_n(xr + half + j, n);
          store_n(o + j, sub(mul(a, vc), mul(b, vs)), n);
          store_n(o + half + j, fmadd(a, vs, mul(b, vc)), n);
        });
      }
    }
  }, R * H * hd >= 2 * kPerThread ? -1 : 1);
}

// The forward is a rotation by θ of each pair (x[j], x[j+hd/2]); its transpose rotates by −θ:
//   dx[j] += dout[j]·cos + dout[j+hd/2]·sin,  dx[j+hd/2] += dout[j+hd/2]·cos − dout[j]·sin
void rope_backward(float* dx, const float* dout, const float* cos, const float* sin, const int32_t* pos,
                   int64_t R, int64_t H, int64_t hd) {
  int64_t half = hd / 2;
  parallel([&](int ith, int nth) {
    int64_t r0, r1;
    split_range(R, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
      const float* c = cos + pos[r] * half;
      const float* s = sin + pos[r] * half;
      for (int64_t h = 0; h < H; h++) {
        const float* d = dout + (r * H + h) * hd;
        float* g = dx + (r * H + h) * hd;
        vec_loop(0, half, [&](int64_t j, int n) {
          vf vc = load_n(c + j, n), vs = load_n(s + j, n);
          vf a = load_n(d + j, n), b = load_n(d + half + j, n);
          store_n(g + j, add(load_n(g + j, n), fmadd(a, vc, mul(b, vs))), n);
          store_n(g + half + j, add(load_n(g + half + j, n), sub(mul(b, vc), mul(a, vs))), n);
        });
      }
    }
  }, R * H * hd >= 2 * kPerThread ? -1 : 1);
}

// Shared argument checks: (out|dx, x|dout, cos, sin, pos, R, H, hd). The tables must hold row max(pos).
struct RopeArgs {
  float* y;
  const float *x, *cos, *sin;
  const int32_t* pos;
  int64_t R, H, hd;
};

bool rope_args(Args& a, RopeArgs* p) {
  p->R = a.int_(5);
  p->H = a.int_(6);
  p->hd = a.int_(7);
  if (a.ok && (p->hd == 0 || p->hd % 2 != 0)) a.fail("hd = " + std::to_string(p->hd) + " must be even and positive");
  int64_t n = p->R * p->H * p->hd;
  p->y = a.f32(0, n);
  p->x = a.f32(1, n);
  p->pos = a.i32(4, p->R);
  if (!a.ok) return false;
  int64_t rows = 0;
  for (int64_t r = 0; r < p->R; r++) {
    if (p->pos[r] < 0) {
      a.fail("pos[" + std::to_string(r) + "] = " + std::to_string(p->pos[r]) + " is negative");
      return false;
    }
    if (p->pos[r] + 1 > rows) rows = p->pos[r] + 1;
  }
  p->cos = a.f32(2, rows * (p->hd / 2));
  p->sin = a.f32(3, rows * (p->hd / 2));
  return a.ok;
}

napi_value ropeForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "ropeForward", 8);
  RopeArgs p;
  if (!rope_args(a, &p)) return nullptr;
  rope_forward(p.y, p.x, p.cos, p.sin, p.pos, p.R, p.H, p.hd);
  return undefined(env);
}

napi_value ropeBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "ropeBackward", 8);
  RopeArgs p;
  if (!rope_args(a, &p)) return nullptr;
  rope_backward(p.y, p.x, p.cos, p.sin, p.pos, p.R, p.H, p.hd);
  return undefined(env);
}

}  // namespace

void register_rope(napi_env env, napi_value exports) {
  export_fn(env, exports, "ropeForward", ropeForward);
  export_fn(env, exports, "ropeBackward", ropeBackward);
}

}  // namespace moekit
