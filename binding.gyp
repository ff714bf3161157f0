# One addon per instruction set, each built from the same sources with its own flags. The TypeScript
# loader asks the scalar build which features the CPU has, then loads the best build it can run.
# Separate shared objects keep code compiled for AVX-512 from ever being linked into the baseline build.
{
  "variables": {
    "moekit_sources": [
      "native/addon.cc",
      "native/threadpool.cc",
      "native/gemm.cc",
      "native/elementwise.cc",
      "native/norm.cc",
      "native/rope.cc",
      "native/attention.cc",
      "native/attention_cached.cc",
      "native/memory.cc",
      "native/loss.cc",
      "native/optim.cc",
      "native/dtype.cc",
      "native/moe.cc",
      "native/routing.cc"
    ],
    "moekit_cflags": ["-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wno-unused-function"]
  },
  "targets": [
    {
      "target_name": "moekit_scalar",
      "sources": ["<@(moekit_sources)"],
      "defines": ["MOEKIT_ISA_NAME=\"scalar\""],
      "cflags_cc": ["<@(moekit_cflags)"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lpthread"]
    },
    {
      "target_name": "moekit_avx2",
      "sources": ["<@(moekit_sources)"],
      "defines": ["MOEKIT_ISA_NAME=\"avx2\""],
      "cflags_cc": ["<@(moekit_cflags)", "-mavx2", "-mfma", "-mf16c"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lpthread"]
    },
    {
      "target_name": "moekit_avx512",
      "sources": ["<@(moekit_sources)"],
      "defines": ["MOEKIT_ISA_NAME=\"avx512\""],
      "cflags_cc": ["<@(moekit_cflags)", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lpthread"]
    }
  ]
}
