/*
 * runtime/threadpool.c — a persistent pool of worker threads for the kernels.
 *
 * rt_parallel_for(n, fn, ctx) splits [0, n) into one contiguous range per thread
 * (the caller takes range 0) and returns when all ranges are done.  Workers
 * wait on a generation counter: they spin briefly (a decode step issues a
 * dispatch every few microseconds), then sleep on a condition variable.
 * A call made from inside a worker runs inline.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* sched_getaffinity, CPU_COUNT */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include "archc_rt.h"

#define RT_MAX_THREADS 256

static struct {
    int n;                          /* threads including the caller            */
    pthread_t tid[RT_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_int generation;          /* bumped once per dispatch                */
    atomic_int pending;             /* workers still running this dispatch     */
    atomic_int stop;
    RtRangeFn fn;
    void *ctx;
    int total;
} pool = {.n = 1, .mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static _Thread_local int in_worker;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void run_share(int idx) {
    int n = pool.total, t = pool.n;
    int b = (int)((long long)n * idx / t), e = (int)((long long)n * (idx + 1) / t);
    if (b < e) pool.fn(pool.ctx, b, e);
}

static void *worker(void *arg) {
    int idx = (int)(long)arg;
    int seen = 0;
    in_worker = 1;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&pool.generation, memory_order_acquire) == seen && !atomic_load(&pool.stop)) {
            if (++spins < 100000) { cpu_relax(); continue; }
            pthread_mutex_lock(&pool.mu);
            while (atomic_load(&pool.generation) == seen && !atomic_load(&pool.stop)) pthread_cond_wait(&pool.wake, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
        }
        if (atomic_load(&pool.stop)) break;
        seen = atomic_load(&pool.generation);
        run_share(idx);
        atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
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
    pool.fn = fn;
    pool.ctx = ctx;
    pool.total = n;
    atomic_store(&pool.pending, pool.n - 1);
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    in_worker = 1;
    run_share(0);
    in_worker = 0;
    /* spin briefly (the other ranges usually finish within microseconds), then yield */
    for (int spins = 0; atomic_load_explicit(&pool.pending, memory_order_acquire) > 0; spins++) {
        if (spins < 100000) cpu_relax();
        else sched_yield();
    }
}
