// Huge pages for long-lived buffers (weights, the KV cache). A decode step streams tens of MB of weights
// from DRAM once per token; with 4 KiB pages every 4 KiB costs a TLB miss: one Zen 4 core's GEMV over
// 96 MiB of f32 weights read 16–17 GB/s from 4 KiB pages against 32 GB/s from 2 MiB ones (README). V8 allocates
// ArrayBuffers on 4 KiB pages, so `hugeBuffer` allocates 2 MiB-aligned memory itself, advises it
// (MADV_HUGEPAGE, Linux) before the first touch, and hands it to JavaScript as an external ArrayBuffer.
// Best effort: where the kernel refuses huge pages, the buffer works the same on small ones.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "common.h"

namespace moekit {
namespace {

constexpr size_t kHuge = size_t(2) << 20;

// A zeroed ArrayBuffer of `bytes` on 2 MiB-aligned memory advised for huge pages (freed by the GC).
napi_value hugeBuffer(napi_env env, napi_callback_info info) {
  Args a(env, info, "hugeBuffer", 1);  // (bytes)
  int64_t bytes = a.int_(0);
  if (!a.ok) return nullptr;
  size_t size = (static_cast<size_t>(bytes > 0 ? bytes : 1) + kHuge - 1) & ~(kHuge - 1);
  void* p = std::aligned_alloc(kHuge, size);
  if (!p) {
    a.fail("cannot allocate " + std::to_string(bytes) + " bytes");
    return nullptr;
  }
#if defined(__linux__)
  madvise(p, size, MADV_HUGEPAGE);  // best effort: the zeroing below faults the pages in as 2 MiB ones
#endif
  std::memset(p, 0, size);
  // V8 does not see memory it did not allocate: without telling it, dropped buffers pile up uncollected.
  napi_value buffer;
  napi_status st = napi_create_external_arraybuffer(env, p, static_cast<size_t>(bytes),
      [](napi_env env, void* data, void* hint) {
        std::free(data);
        int64_t ignored;
        napi_adjust_external_memory(env, -static_cast<int64_t>(reinterpret_cast<uintptr_t>(hint)), &ignored);
      }, reinterpret_cast<void*>(static_cast<uintptr_t>(size)), &buffer);
  if (st != napi_ok) {
    std::free(p);
    a.fail("cannot wrap the allocation as an ArrayBuffer");
    return nullptr;
  }
  int64_t ignored;
  napi_adjust_external_memory(env, static_cast<int64_t>(size), &ignored);
  return buffer;
}

}  // namespace

void register_memory(napi_env env, napi_value exports) {
  export_fn(env, exports, "hugeBuffer", hugeBuffer);
}

}  // namespace moekit
