// A small persistent thread pool.
//
// Jobs are split into tasks that threads claim dynamically; the calling thread takes part and
// returns when every task has *completed*, so a worker that is not scheduled in time (a busy
// machine) never holds the caller up unless it has already claimed a task. Tasks are claimed
// with a CAS on one 64-bit word holding (job id, next task), so a late worker can never run a
// task of a job that has already finished. Workers spin briefly after a job (back-to-back
// kernel calls hand over quickly), then sleep on a condition variable.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define IRLL_PAUSE() _mm_pause()
#else
#define IRLL_PAUSE() ((void)0)
#endif

namespace irll {
namespace {

constexpr int kWorkerSpinUs = 100;  // a worker spins this long after a job before sleeping
constexpr int kCallerSpinUs = 50;   // the caller spins this long waiting for stragglers

struct Pool {
  std::vector<std::thread> workers;
  std::mutex use_mu;  // held by the thread that owns the pool for a job (or a resize)

  std::mutex mu;
  std::condition_variable cv_start;
  std::condition_variable cv_done;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> generation{0};  // bumped for each job (wakes the workers)

  // current job
  std::atomic<TaskFn> fn{nullptr};
  std::atomic<void*> ctx{nullptr};
  std::atomic<i64> ntasks{0};
  std::atomic<uint64_t> claim{0};  // (job id << 32) | next task
  std::atomic<i64> done{0};        // completed tasks of the current job
  std::atomic<int> sleepers_waiting_done{0};
  uint32_t job_id = 0;

  int nthreads = 1;  // including the caller

  // Claims and runs tasks of job `id` until none are left. Returns after the last claim fails.
  void run_tasks(uint32_t id) {
    for (;;) {
      uint64_t w = claim.load(std::memory_order_acquire);
      if ((uint32_t)(w >> 32) != id) return;
      // read the job description after seeing the id (written before the id was published)
      TaskFn f = fn.load(std::memory_order_relaxed);
      void* c = ctx.load(std::memory_order_relaxed);
      i64 nt = ntasks.load(std::memory_order_relaxed);
      i64 t = (i64)(uint32_t)w;
      if (t >= nt) return;
      if (!claim.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel)) continue;
      f(c, t);
      // seq_cst pairs with the caller's sleepers_waiting_done increment / done re-check
      if (done.fetch_add(1) + 1 == nt && sleepers_waiting_done.load() > 0) {
        std::lock_guard<std::mutex> lk(mu);
        cv_done.notify_all();
      }
    }
  }

  void worker_main(uint64_t seen) {
    for (;;) {
      uint64_t g = seen;
      auto t0 = std::chrono::steady_clock::now();
      for (int spin = 0;; spin++) {
        g = generation.load(std::memory_order_acquire);
        if (g != seen || stopping.load(std::memory_order_relaxed)) break;
        IRLL_PAUSE();
        if ((spin & 127) == 127 &&
            std::chrono::steady_clock::now() - t0 > std::chrono::microseconds(kWorkerSpinUs)) {
          std::unique_lock<std::mutex> lk(mu);
          cv_start.wait(lk, [&] {
            return stopping.load(std::memory_order_relaxed) || generation.load(std::memory_order_acquire) != seen;
          });
          g = generation.load(std::memory_order_acquire);
          break;
        }
      }
      if (stopping.load(std::memory_order_relaxed)) return;
      seen = g;
      run_tasks((uint32_t)(claim.load(std::memory_order_acquire) >> 32));
    }
  }

  void start(int n) {
    nthreads = n < 1 ? 1 : n;
    stopping.store(false);
    // The generation is sampled here, not in the new thread, so that a job posted before the
    // thread gets scheduled is not missed.
    uint64_t g = generation.load(std::memory_order_acquire);
    for (int i = 0; i < nthreads - 1; i++) {
      try {
        workers.emplace_back([this, g] { worker_main(g); });
      } catch (...) {  // cannot create more threads: run with those we have
        nthreads = (int)workers.size() + 1;
        break;
      }
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stopping.store(true);
      generation.fetch_add(1, std::memory_order_acq_rel);
    }
    cv_start.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
  }
};

Pool& pool() {
  static Pool* p = [] {
    Pool* q = new Pool();  // intentionally leaked: workers must not be joined at static destruction
    int n = (int)std::thread::hardware_concurrency();
    if (n < 1) n = 1;
    if (const char* e = std::getenv("IRLLREC_THREADS")) {
      int v = std::atoi(e);
      if (v >= 1) n = v;
    }
    if (n > 256) n = 256;
    q->start(n);
    return q;
  }();
  return *p;
}

thread_local bool tl_in_parallel = false;

}  // namespace

int pool_threads() { return pool().nthreads; }

int pool_set_threads(int n) {
  Pool& p = pool();
  if (n < 1) n = 1;
  if (n > 256) n = 256;
  std::lock_guard<std::mutex> use(p.use_mu);
  if (n != p.nthreads) {
    p.stop();
    p.start(n);
  }
  return p.nthreads;
}

void parallel_for(i64 ntasks, TaskFn fn, void* ctx, int max_workers) {
  if (ntasks <= 0) return;
  Pool& p = pool();
  int nt = p.nthreads;
  if (max_workers < nt) nt = max_workers;
  if ((i64)nt > ntasks) nt = (int)ntasks;
  std::unique_lock<std::mutex> use(p.use_mu, std::defer_lock);
  if (nt <= 1 || ntasks >= ((i64)1 << 31) || tl_in_parallel || !use.try_lock()) {
    for (i64 t = 0; t < ntasks; t++) fn(ctx, t);
    return;
  }
  tl_in_parallel = true;
  uint32_t id = ++p.job_id;
  if (id == 0) id = ++p.job_id;  // 0 never names a live job
  p.fn.store(fn, std::memory_order_relaxed);
  p.ctx.store(ctx, std::memory_order_relaxed);
  p.ntasks.store(ntasks, std::memory_order_relaxed);
  p.done.store(0, std::memory_order_relaxed);
  p.claim.store((uint64_t)id << 32, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lk(p.mu);
    p.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  p.cv_start.notify_all();
  p.run_tasks(id);
  // all tasks are claimed; wait until the ones other threads run have completed
  auto t0 = std::chrono::steady_clock::now();
  for (int spin = 0; p.done.load(std::memory_order_acquire) != ntasks; spin++) {
    IRLL_PAUSE();
    if ((spin & 127) == 127 && std::chrono::steady_clock::now() - t0 > std::chrono::microseconds(kCallerSpinUs)) {
      std::unique_lock<std::mutex> lk(p.mu);
      p.sleepers_waiting_done.fetch_add(1);
      p.cv_done.wait(lk, [&] { return p.done.load() == ntasks; });
      p.sleepers_waiting_done.fetch_sub(1);
      break;
    }
  }
  tl_in_parallel = false;
}

void* scratch_alloc(size_t bytes) {
  size_t sz = (bytes + 63) & ~(size_t)63;
  if (sz == 0) sz = 64;
  return std::aligned_alloc(64, sz);
}

void scratch_free(void* p) { std::free(p); }

}  // namespace irll
