// The process-wide thread pool: size-1 workers plus the calling thread.
//
// Idle workers sleep on a condition variable, so an idle pool costs no CPU (a pool that spins
// forever collapses decode speed on a 2-core machine: llama.cpp fell from 658 to ~90 tok/s, see
// shared/bench/README.md). Waking a sleeping thread costs a futex round trip (tens of µs), which
// would dominate small kernels such as the decode GEMV, so a worker that just finished a job spins
// for at most kSpin before it sleeps, and the caller spins the same bounded time for stragglers.
// Back-to-back kernels (a decode step, a training step) then dispatch through a few cache lines.
//
// Dispatch: every worker has its own ticket, seq·4 + phase (posted, running, cancelled). A job is published,
// then the tickets of workers 1..nth-1 are posted; a worker claims its ticket (posted → running)
// before it reads the job and decrements `pending` when done. For a dynamic job (parallel_chunks) the
// caller, once the chunks run out, cancels every ticket still posted (posted → cancelled) and counts
// those workers done itself. The caller publishes the next job only when `pending` is zero, so the job
// fields are never read while being written.
#include "common.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace moekit {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::microseconds kSpin(50);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins while pred() is false for at most kSpin; returns pred()'s last value.
template <class P>
bool spin_until(P pred) {
  auto t0 = Clock::now();
  for (int i = 1;; i++) {
    if (pred()) return true;
    cpu_relax();
    if ((i & 63) == 0 && Clock::now() - t0 > kSpin) return pred();
  }
}

thread_local bool tl_in_job = false;  // a kernel that calls parallel_for from inside a job runs inline

enum Phase : uint64_t { kPosted = 1, kRunning = 2, kCancelled = 3 };

struct alignas(64) Ticket {
  std::atomic<uint64_t> word{0};  // seq·4 + phase
};

struct Pool {
  std::mutex dispatch;  // one job at a time (JS worker threads may call kernels concurrently)
  std::mutex mu;        // guards sleeping on `wake` / `done`
  std::condition_variable wake, done;
  std::vector<std::thread> workers;
  std::unique_ptr<Ticket[]> tickets;  // [size]; index 0 unused (the caller)
  uint64_t seq = 0;
  // The job, published before the tickets are posted: static (fn) or dynamic (chunk_fn over nchunks).
  void (*fn)(void*, int, int) = nullptr;
  void (*chunk_fn)(void*, int64_t) = nullptr;
  void* ctx = nullptr;
  int nth = 1;
  int64_t nchunks = 0;
  alignas(64) std::atomic<int64_t> next_chunk{0};
  alignas(64) std::atomic<int> pending{0};
  std::atomic<int> sleepers{0};
  std::atomic<bool> caller_sleeping{false};
  std::atomic<bool> stopping{false};
  int size = 1;  // threads including the caller

  Pool() {
    unsigned hw = std::thread::hardware_concurrency();
    resize(hw == 0 ? 1 : static_cast<int>(hw));
  }
  ~Pool() { stop(); }

  void stop() {
    stopping.store(true);
    { std::lock_guard<std::mutex> lk(mu); }
    wake.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
    stopping.store(false);
  }

  void resize(int n) {
    if (n < 1) n = 1;
    stop();
    size = n;
    tickets.reset(new Ticket[n]);
    for (int i = 1; i < n; i++) workers.emplace_back([this, i] { loop(i); });
  }

  void run_chunks() {
    for (int64_t c; (c = next_chunk.fetch_add(1, std::memory_order_relaxed)) < nchunks;) chunk_fn(ctx, c);
  }

  void loop(int ith) {
    tl_in_job = true;
    std::atomic<uint64_t>& ticket = tickets[ith].word;
    auto ready = [&] { return (ticket.load(std::memory_order_acquire) & 3) == kPosted || stopping.load(); };
    for (;;) {
      if (!spin_until(ready)) {
        std::unique_lock<std::mutex> lk(mu);
        sleepers.fetch_add(1);  // seq_cst: pairs with the caller's post then sleepers check
        wake.wait(lk, ready);
        sleepers.fetch_sub(1);
      }
      if (stopping.load()) return;
      uint64_t w = ticket.load(std::memory_order_acquire);
      if ((w & 3) != kPosted || !ticket.compare_exchange_strong(w, w - kPosted + kRunning)) continue;
      if (chunk_fn) run_chunks();
      else fn(ctx, ith, nth);
      if (pending.fetch_sub(1) == 1 && caller_sleeping.load()) {
        std::lock_guard<std::mutex> lk(mu);
        done.notify_one();
      }
    }
  }

  // Posts the published job to workers 1..n-1, runs the caller's share, waits for the workers.
  template <class Self>
  void dispatch_and_wait(int n, Self self) {
    nth = n;
    pending.store(n - 1);
    seq++;
    for (int i = 1; i < n; i++) tickets[i].word.store(seq * 4 + kPosted);  // seq_cst, before sleepers
    if (sleepers.load() > 0) {
      { std::lock_guard<std::mutex> lk(mu); }  // a worker between its check and wait() holds mu
      wake.notify_all();
    }
    tl_in_job = true;
    self();
    tl_in_job = false;
    if (chunk_fn) {  // no chunks left: whoever has not started is not needed
      for (int i = 1; i < n; i++) {
        uint64_t w = seq * 4 + kPosted;
        if (tickets[i].word.compare_exchange_strong(w, seq * 4 + kCancelled)) pending.fetch_sub(1);
      }
    }
    auto finished = [&] { return pending.load(std::memory_order_acquire) == 0; };
    if (!spin_until(finished)) {
      std::unique_lock<std::mutex> lk(mu);
      caller_sleeping.store(true);  // seq_cst: pairs with the worker's decrement then flag check
      done.wait(lk, finished);
      caller_sleeping.store(false);
    }
  }

  void run_static(int n, void (*f)(void*, int, int), void* c) {
    if (n > size) n = size;
    if (n <= 1 || tl_in_job) {
      f(c, 0, 1);
      return;
    }
    std::lock_guard<std::mutex> serial(dispatch);
    fn = f;
    chunk_fn = nullptr;
    ctx = c;
    dispatch_and_wait(n, [&] { f(c, 0, n); });
  }

  void run_dynamic(int n, int64_t chunks, void (*f)(void*, int64_t), void* c) {
    if (n > size) n = size;
    if (n > chunks) n = static_cast<int>(chunks);
    if (n <= 1 || tl_in_job) {
      for (int64_t i = 0; i < chunks; i++) f(c, i);
      return;
    }
    std::lock_guard<std::mutex> serial(dispatch);
    fn = nullptr;
    chunk_fn = f;
    ctx = c;
    nchunks = chunks;
    next_chunk.store(0, std::memory_order_relaxed);  // published by the tickets' seq_cst stores
    dispatch_and_wait(n, [&] { run_chunks(); });
  }
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void parallel_for(int nth, void (*fn)(void*, int, int), void* ctx) { pool().run_static(nth, fn, ctx); }
void parallel_chunks(int nth, int64_t nchunks, void (*fn)(void*, int64_t), void* ctx) {
  pool().run_dynamic(nth, nchunks, fn, ctx);
}
int pool_threads() { return pool().size; }
void set_pool_threads(int n) {
  Pool& p = pool();
  std::lock_guard<std::mutex> serial(p.dispatch);
  if (n != p.size) p.resize(n);
}

}  // namespace moekit
