// N-API module: argument helpers, build facts, and registration of every kernel family.
// Built three times (scalar, avx2, avx512); MOEKIT_ISA_NAME says which build this is.
#include "common.h"

#include <cmath>
#include <cstdio>
#include <thread>

#ifndef MOEKIT_ISA_NAME
#define MOEKIT_ISA_NAME "scalar"
#endif

namespace moekit {

Args::Args(napi_env e, napi_callback_info info, const char* k, size_t expected) : env(e), kernel(k) {
  argc = sizeof(argv) / sizeof(argv[0]);
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < expected) {
    fail("expected " + std::to_string(expected) + " arguments, got " + std::to_string(argc));
  }
}

void Args::fail(const std::string& msg) {
  if (!ok) return;  // report the first problem only
  ok = false;
  std::string m = std::string("moekit native ") + kernel + ": " + msg;
  napi_throw_error(env, nullptr, m.c_str());
}

static void* typed(Args& a, size_t i, napi_typedarray_type want, const char* want_name, size_t min_len) {
  if (!a.ok) return nullptr;
  bool is = false;
  napi_is_typedarray(a.env, a.argv[i], &is);
  if (!is) {
    a.fail("argument " + std::to_string(i) + " must be a " + want_name);
    return nullptr;
  }
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value ab;
  size_t offset;
  napi_get_typedarray_info(a.env, a.argv[i], &type, &length, &data, &ab, &offset);
  if (type != want) {
    a.fail("argument " + std::to_string(i) + " must be a " + want_name);
    return nullptr;
  }
  if (length < min_len) {
    a.fail("argument " + std::to_string(i) + " has " + std::to_string(length) + " elements, needs at least " +
           std::to_string(min_len));
    return nullptr;
  }
  return data;
}

float* Args::f32(size_t i, size_t n) { return static_cast<float*>(typed(*this, i, napi_float32_array, "Float32Array", n)); }
int32_t* Args::i32(size_t i, size_t n) { return static_cast<int32_t*>(typed(*this, i, napi_int32_array, "Int32Array", n)); }
uint16_t* Args::u16(size_t i, size_t n) { return static_cast<uint16_t*>(typed(*this, i, napi_uint16_array, "Uint16Array", n)); }

double Args::num(size_t i) {
  if (!ok) return 0;
  double v = 0;
  if (napi_get_value_double(env, argv[i], &v) != napi_ok) fail("argument " + std::to_string(i) + " must be a number");
  return v;
}

int64_t Args::int_(size_t i) {
  double v = num(i);
  if (ok && (v < 0 || std::floor(v) != v || v > 9.007199254740991e15)) {
    fail("argument " + std::to_string(i) + " must be a non-negative integer");
  }
  return static_cast<int64_t>(v);
}

bool Args::boolean(size_t i) {
  if (!ok) return false;
  bool v = false;
  if (napi_get_value_bool(env, argv[i], &v) != napi_ok) fail("argument " + std::to_string(i) + " must be a boolean");
  return v;
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value number(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

void export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn);
  napi_set_named_property(env, exports, name, fn);
}

// ---- build facts and threads ---------------------------------------------------------------------

static napi_value cpu_features(napi_env env, napi_callback_info) {
  // Compiled into every build, but only called on the scalar one (safe on any x86-64 CPU).
  napi_value o;
  napi_create_object(env, &o);
  auto set = [&](const char* k, bool v) {
    napi_value b;
    napi_get_boolean(env, v, &b);
    napi_set_named_property(env, o, k, b);
  };
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  set("avx2", __builtin_cpu_supports("avx2"));
  set("fma", __builtin_cpu_supports("fma"));
  set("f16c", __builtin_cpu_supports("f16c"));
  set("avx512f", __builtin_cpu_supports("avx512f"));
  set("avx512bw", __builtin_cpu_supports("avx512bw"));
  set("avx512vl", __builtin_cpu_supports("avx512vl"));
  set("avx512dq", __builtin_cpu_supports("avx512dq"));
#else
  set("avx2", false); set("fma", false); set("f16c", false);
  set("avx512f", false); set("avx512bw", false); set("avx512vl", false); set("avx512dq", false);
#endif
  return o;
}

static napi_value isa(napi_env env, napi_callback_info) {
  napi_value s;
  napi_create_string_utf8(env, MOEKIT_ISA_NAME, NAPI_AUTO_LENGTH, &s);
  return s;
}

static napi_value threads(napi_env env, napi_callback_info) { return number(env, pool_threads()); }

static napi_value set_threads(napi_env env, napi_callback_info info) {
  Args a(env, info, "setThreads", 1);
  int64_t n = a.int_(0);
  if (a.ok && n < 1) a.fail("thread count must be >= 1");
  if (!a.ok) return nullptr;
  set_pool_threads(static_cast<int>(n));
  return undefined(env);
}

static napi_value hardware_threads(napi_env env, napi_callback_info) {
  return number(env, std::thread::hardware_concurrency());
}

static napi_value init(napi_env env, napi_value exports) {
  export_fn(env, exports, "cpuFeatures", cpu_features);
  export_fn(env, exports, "isa", isa);
  export_fn(env, exports, "threads", threads);
  export_fn(env, exports, "setThreads", set_threads);
  export_fn(env, exports, "hardwareThreads", hardware_threads);
  register_gemm(env, exports);
  register_elementwise(env, exports);
  register_norm(env, exports);
  register_rope(env, exports);
  register_attention(env, exports);
  register_attention_cached(env, exports);
  register_memory(env, exports);
  register_loss(env, exports);
  register_optim(env, exports);
  register_dtype(env, exports);
  register_moe(env, exports);
  register_routing(env, exports);
  return exports;
}

}  // namespace moekit

NAPI_MODULE(NODE_GYP_MODULE_NAME, moekit::init)
