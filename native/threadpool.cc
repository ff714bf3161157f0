// The process-wide thread pool: nth-1 workers plus the calling thread. Workers block on a condition
// variable between jobs, so an idle pool costs no CPU (a spinning pool collapses decode speed on a
// 2-core machine, see shared/bench/README.md).
#include "common.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace moekit {
namespace {

struct Pool {
  std::mutex mu;
  std::condition_variable wake, done;
  std::vector<std::thread> workers;
  void (*fn)(void*, int, int) = nullptr;
  void* ctx = nullptr;
  int nth = 1;
  uint64_t generation = 0;
  int pending = 0;
  bool stopping = false;
  int size = 1;  // threads including the caller

  Pool() {
    unsigned hw = std::thread::hardware_concurrency();
    resize(hw == 0 ? 1 : static_cast<int>(hw));
  }
  ~Pool() { stop(); }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stopping = true;
    }
    wake.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
    stopping = false;
  }

  void resize(int n) {
    if (n < 1) n = 1;
    stop();
    size = n;
    for (int i = 1; i < n; i++) workers.emplace_back([this, i] { loop(i); });
  }

  void loop(int ith) {
    uint64_t seen = 0;
    for (;;) {
      void (*f)(void*, int, int);
      void* c;
      int n;
      {
        std::unique_lock<std::mutex> lk(mu);
        wake.wait(lk, [&] { return stopping || generation != seen; });
        if (stopping) return;
        seen = generation;
        f = fn; c = ctx; n = nth;
      }
      if (ith < n) f(c, ith, n);
      {
        std::lock_guard<std::mutex> lk(mu);
        if (--pending == 0) done.notify_one();
      }
    }
  }

  void run(int n, void (*f)(void*, int, int), void* c) {
    if (n > size) n = size;
    if (n <= 1) {
      f(c, 0, 1);
      return;
    }
    {
      std::lock_guard<std::mutex> lk(mu);
      fn = f; ctx = c; nth = n;
      pending = static_cast<int>(workers.size());
      generation++;
    }
    wake.notify_all();
    f(c, 0, n);
    std::unique_lock<std::mutex> lk(mu);
    done.wait(lk, [&] { return pending == 0; });
  }
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void parallel_for(int nth, void (*fn)(void*, int, int), void* ctx) { pool().run(nth, fn, ctx); }
int pool_threads() { return pool().size; }
void set_pool_threads(int n) {
  if (n != pool().size) pool().resize(n);
}

}  // namespace moekit
