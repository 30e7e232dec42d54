/*
 * runtime/util.c — small helpers of the runtime: time, aligned allocation, fatal errors.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "archc_rt.h"

double rt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Every block has a 64-byte header (size, how it was allocated) so rt_free can
 * release it.  Large blocks (KV caches sized for the full context) come from
 * mmap: the kernel hands out zero pages lazily, so a 40k-token cache costs
 * nothing until positions are written. */
int rt_precision = RT_PRECISION_F32;   /* set by --precision (runtime/main.c) */

enum { RT_HDR = 64, RT_BIG = 1 << 20 };

void *rt_alloc(size_t bytes) {
    if (bytes > ((size_t)1 << 48)) rt_die("out of memory allocating %zu bytes", bytes);   /* also keeps the rounding below from wrapping */
    size_t total = ((bytes + 63) & ~(size_t)63) + RT_HDR;
    char *base;
    if (total >= RT_BIG) {
        base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) rt_die("out of memory allocating %zu bytes", bytes);
    } else {
        void *p = NULL;
        if (posix_memalign(&p, 64, total) != 0 || !p) rt_die("out of memory allocating %zu bytes", bytes);
        base = p;
        memset(base, 0, total);
    }
    ((size_t *)base)[0] = total;
    return base + RT_HDR;
}

void rt_free(void *p) {
    if (!p) return;
    char *base = (char *)p - RT_HDR;
    size_t total = ((size_t *)base)[0];
    if (total >= RT_BIG) munmap(base, total);
    else free(base);
}

void rt_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}
