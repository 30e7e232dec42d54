/*
 * runtime/isa.c — which instruction sets this CPU has, and the start-up
 * dispatch of a --target build (runtime/archc_rt.h).
 *
 * A binary built for this machine (no --target) is compiled with
 * -march=native and never comes here.  A --target build contains the model
 * compiled several times — for x86-64: baseline (scalar kernels), x86-64-v3
 * (AVX2/FMA), v3 + AVX-VNNI, x86-64-v4 (AVX-512) and v4 + AVX512-BF16/VNNI;
 * for AArch64: armv8-a (NEON) and armv8.2-a + dotprod — and main() asks
 * rt_dispatch_main to run the best copy the CPU supports.  The features are
 * read from CPUID (and XGETBV: the OS must save the AVX / AVX-512 registers)
 * on x86-64, from the kernel's hardware capabilities on AArch64.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "archc_rt.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

const char *rt_isa_name = "native";

#if defined(__x86_64__) || defined(__i386__)
static unsigned long long read_xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));   /* xgetbv */
    return ((unsigned long long)hi << 32) | lo;
}
#endif

unsigned rt_cpu_features(void) {
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = c >> 12 & 1, movbe = c >> 22 & 1, osxsave = c >> 27 & 1, avx = c >> 28 & 1, f16c = c >> 29 & 1;
    unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
    int os_avx = (xcr0 & 0x6) == 0x6, os_zmm = (xcr0 & 0xe6) == 0xe6;
    unsigned b7 = 0, c7 = 0, a71 = 0, tmp;
    if (__get_cpuid_count(7, 0, &tmp, &b7, &c7, &d)) {
        unsigned max7 = tmp;
        if (max7 >= 1) __get_cpuid_count(7, 1, &a71, &tmp, &tmp, &tmp);
    }
    unsigned lzcnt = 0;
    if (__get_cpuid(0x80000001, &a, &b, &c, &d)) lzcnt = c >> 5 & 1;
    int avx2 = b7 >> 5 & 1, bmi1 = b7 >> 3 & 1, bmi2 = b7 >> 8 & 1;
    if (os_avx && avx && avx2 && fma && f16c && bmi1 && bmi2 && lzcnt && movbe) {
        f |= RT_CPU_X86_V3;
        if (a71 >> 4 & 1) f |= RT_CPU_AVXVNNI;
        int avx512 = (b7 >> 16 & 1) && (b7 >> 17 & 1) && (b7 >> 28 & 1) && (b7 >> 30 & 1) && (b7 >> 31 & 1); /* F DQ CD BW VL */
        if (os_zmm && avx512) {
            f |= RT_CPU_X86_V4;
            if (c7 >> 11 & 1) f |= RT_CPU_AVX512VNNI;
            if (a71 >> 5 & 1) f |= RT_CPU_AVX512BF16;
        }
    }
#elif defined(__aarch64__) && defined(__linux__)
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) f |= RT_CPU_ARM_DOTPROD;
#endif
    return f;
}

int rt_cpu_vendor_intel(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    return b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu;   /* "Genu" "ineI" "ntel" */
#else
    return 0;
#endif
}

int rt_amx_ready(void) {
    static int state = -1;   /* -1 not asked yet; the first call is made before threads fan out */
    int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (s >= 0) return s;
    s = 0;
#if (defined(__x86_64__)) && defined(__linux__)
    const char *env = getenv("ARCHC_AMX");
    unsigned a, b, c, d;
    if (!(env && !strcmp(env, "0")) && __get_cpuid(1, &a, &b, &c, &d) && (c >> 27 & 1) &&
        __get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        int tile = d >> 24 & 1, bf16 = d >> 22 & 1;
        unsigned long long xcr0 = read_xcr0();
        /* XCR0 bits 17 (XTILECFG) and 18 (XTILEDATA): the OS manages the tile state */
        if (tile && bf16 && (xcr0 >> 17 & 3) == 3 && syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0)
            s = 1;
    }
#endif
    __atomic_store_n(&state, s, __ATOMIC_RELEASE);
    return s;
}

int rt_dispatch_main(int argc, char **argv, const RtVariant *v, int n) {
    unsigned have = rt_cpu_features();
    const char *force = getenv("ARCHC_ISA");
    const RtVariant *pick = NULL;
    if (force && *force) {
        for (int i = 0; i < n; i++)
            if (!strcmp(v[i].name, force)) pick = &v[i];
        if (!pick || (pick->needs & ~have)) {
            fprintf(stderr, "error: ARCHC_ISA=%s: %s; this binary has", force,
                    pick ? "this CPU lacks the instructions that variant needs" : "no such variant");
            for (int i = 0; i < n; i++)
                if (!(v[i].needs & ~have)) fprintf(stderr, " %s", v[i].name);
            fprintf(stderr, " for this CPU\n");
            return 2;
        }
    } else {
        for (int i = 0; i < n && !pick; i++)
            if (!(v[i].needs & ~have)) pick = &v[i];
    }
    if (!pick) {   /* the last variant needs nothing: only a broken table gets here */
        fprintf(stderr, "error: this CPU supports none of the instruction sets this binary was built for\n");
        return 2;
    }
    rt_isa_name = pick->name;
    return rt_main(argc, argv, pick->model());
}
