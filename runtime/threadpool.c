/*
 * runtime/threadpool.c — a persistent pool of worker threads for the kernels.
 *
 * rt_parallel_for(n, fn, ctx) hands [0, n) out in chunks: every thread (the
 * caller included) claims the next chunk from one shared word until none are
 * left, and the call returns when every claimed chunk is done.  Chunks rather
 * than one fixed range per thread, because the machines archc runs on are
 * often shared: with fixed halves, a worker that the OS has descheduled makes
 * the caller wait a whole time slice (measured here with another process busy
 * on the second core: a 2-thread bf16 GEMV took 10× longer than on one
 * thread); with chunks the threads that run take its share.
 *
 * The shared word holds (dispatch number << 32 | next index), claimed with a
 * compare-and-swap, so a worker that wakes late cannot claim work of a later
 * dispatch.  Workers wait on the dispatch number: they spin briefly (a decode
 * step issues a dispatch every few microseconds), then sleep on a condition
 * variable.  A call made from inside a worker runs inline.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* sched_getaffinity, CPU_COUNT */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "archc_rt.h"

#define RT_MAX_THREADS 256
#define RT_SPINS 20000          /* pause loops before a worker sleeps (~0.3 ms) */
#define RT_CHUNKS_PER_THREAD 4  /* claim granularity: n / (threads × this)      */
#define RT_CLOSED 0x7FFFFFFFu   /* next index of a dispatch being replaced        */

static struct {
    int n;                          /* threads including the caller            */
    pthread_t tid[RT_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t wake;
    _Atomic uint64_t work;          /* dispatch << 32 | next unclaimed index   */
    atomic_int done;                /* indices finished in this dispatch       */
    atomic_int stop;
    RtRangeFn fn;
    void *ctx;
    atomic_int total, chunk;        /* read by workers that may be a dispatch late */
} pool = {.n = 1, .mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static _Thread_local int in_worker;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Claim and run chunks of dispatch `gen` until none are left. */
static void run_chunks(uint32_t gen) {
    for (;;) {
        uint64_t w = atomic_load_explicit(&pool.work, memory_order_acquire);
        if ((uint32_t)(w >> 32) != gen) return;
        int b = (int)(uint32_t)w, total = atomic_load_explicit(&pool.total, memory_order_relaxed),
            chunk = atomic_load_explicit(&pool.chunk, memory_order_relaxed);
        if (b >= total) return;
        int e = total - b > chunk ? b + chunk : total;
        if (!atomic_compare_exchange_weak_explicit(&pool.work, &w, ((uint64_t)gen << 32) | (uint32_t)e,
                                                   memory_order_acq_rel, memory_order_acquire))
            continue;
        pool.fn(pool.ctx, b, e);
        atomic_fetch_add_explicit(&pool.done, e - b, memory_order_release);
    }
}

static void *worker(void *arg) {
    (void)arg;
    uint32_t seen = 0;
    in_worker = 1;
    for (;;) {
        int spins = 0;
        uint32_t gen;
        while ((gen = (uint32_t)(atomic_load_explicit(&pool.work, memory_order_acquire) >> 32)) == seen &&
               !atomic_load(&pool.stop)) {
            if (++spins < RT_SPINS) { cpu_relax(); continue; }
            pthread_mutex_lock(&pool.mu);
            while ((uint32_t)(atomic_load(&pool.work) >> 32) == seen && !atomic_load(&pool.stop))
                pthread_cond_wait(&pool.wake, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
        }
        if (atomic_load(&pool.stop)) break;
        seen = gen;
        run_chunks(gen);
    }
    return NULL;
}

int rt_cpu_count(void) {
    int n = 0;
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0 || (online > 0 && n > online)) n = (int)online;
    return n < 1 ? 1 : n;
}

void rt_threads_init(int n) {
    rt_threads_shutdown();
    int cpus = rt_cpu_count();
    if (n <= 0 || n > cpus) n = cpus;
    if (n < 1) n = 1;
    if (n > RT_MAX_THREADS) n = RT_MAX_THREADS;
    atomic_store(&pool.stop, 0);
    pool.n = n;
    for (int i = 1; i < n; i++)
        if (pthread_create(&pool.tid[i], NULL, worker, (void *)(long)i) != 0) rt_die("cannot create thread %d", i);
}

int rt_threads(void) { return pool.n; }

void rt_threads_shutdown(void) {
    if (pool.n <= 1) { pool.n = 1; return; }
    pthread_mutex_lock(&pool.mu);
    atomic_store(&pool.stop, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 1; i < pool.n; i++) pthread_join(pool.tid[i], NULL);
    pool.n = 1;
}

void rt_parallel_for(int n, RtRangeFn fn, void *ctx) {
    if (n <= 0) return;
    if (pool.n <= 1 || n == 1 || in_worker) { fn(ctx, 0, n); return; }
    int chunk = n / (pool.n * RT_CHUNKS_PER_THREAD);
    /* Close the previous dispatch before touching its fields.  A worker that
     * read the word (gen, next = total) just before the previous dispatch
     * ended may still be about to read pool.total: seeing the new, larger
     * total it would take [total, …) as work and its compare-and-swap on the
     * unchanged word would succeed — running indices of the wrong dispatch and
     * adding them to the new dispatch's count, so this call could return while
     * chunks still ran (seen once in CI as wrong decode logits; ThreadSanitizer
     * showed the caller's stack arguments rewritten while a worker read them).
     * With next = RT_CLOSED its compare-and-swap fails and it stops. */
    uint32_t prev = (uint32_t)(atomic_load(&pool.work) >> 32);
    atomic_store_explicit(&pool.work, ((uint64_t)prev << 32) | RT_CLOSED, memory_order_release);
    pool.fn = fn;
    pool.ctx = ctx;
    atomic_store_explicit(&pool.total, n, memory_order_relaxed);
    atomic_store_explicit(&pool.chunk, chunk < 1 ? 1 : chunk, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    uint32_t gen = prev + 1;
    pthread_mutex_lock(&pool.mu);
    atomic_store_explicit(&pool.work, (uint64_t)gen << 32, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    in_worker = 1;
    run_chunks(gen);
    in_worker = 0;
    /* every chunk is claimed; wait for the ones still running elsewhere */
    for (int spins = 0; atomic_load_explicit(&pool.done, memory_order_acquire) < n; spins++) {
        if (spins < RT_SPINS) cpu_relax();
        else sched_yield();
    }
}
