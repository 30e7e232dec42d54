// cuda_emu.h — run CUDA source on the CPU, for tests (ARCHC_CUDA_EMU).
//
// What it is for
//   archc emits CUDA (.cu) for GPUs, but CI has no GPU.  This header lets the *same*
//   .cu text be compiled as C++17 for the host and run, so the emitted model's logits
//   can be checked exactly on any machine:
//
//     g++ -std=c++17 -x c++ -DARCHC_CUDA_EMU -include runtime/cuda/cuda_emu.h model.cu
//     (clang++ 14 too; or #include it under #ifdef ARCHC_CUDA_EMU instead of
//     <cuda_runtime.h>).  Kernels are launched with CU_EMU_LAUNCH(kernel, grid, block,
//     smem, stream, args...) — the <<<...>>> syntax is not C++.
//
// What it guarantees
//   * Deterministic: one OS thread; blocks run one after another in order (x fastest,
//     then y, then z); the threads of a block are cooperative fibers scheduled in a
//     fixed order.  Same input, same output, every run.
//   * CUDA semantics for what it implements: __syncthreads (and _count/_and/_or),
//     __syncwarp, the four shuffles with any power-of-two width (the PTX shfl rules,
//     including "own value when the source lane is out of range"), ballot/any/all,
//     atomics, the launch configuration limits (cudaErrorInvalidConfiguration through
//     cudaGetLastError, the kernel not run), stream capture into graphs with arguments
//     captured by value and memcpy/memset nodes replayed in order.
//   * A thread that returns leaves the barriers: the rest of its block (or warp) can
//     still synchronise.  A shuffle whose source lane is not in the mask (or has exited)
//     returns the caller's own value (undefined in CUDA).  A block in which no thread
//     can make progress (threads waiting at __syncthreads while others wait at a warp
//     barrier, ...) aborts with a message naming the kernel, the launch shape and the
//     block.  __syncthreads reached at two
//     different source lines by threads of one block at the same time (divergent
//     __syncthreads, undefined in CUDA) aborts at once, naming both lines.
//   * Stream capture as CUDA does it: work on a capturing stream is recorded, not run;
//     in global/thread-local mode a synchronous cudaMemcpy/cudaMemset/cudaMalloc/
//     cudaFree/cudaDeviceSynchronize fails with cudaErrorStreamCaptureUnsupported, work
//     on the legacy stream 0 with cudaErrorStreamCaptureImplicit, and either invalidates
//     the capture (cudaStreamEndCapture: cudaErrorStreamCaptureInvalidated).  Dynamic
//     shared memory over 48 KiB needs cudaFuncSetAttribute, as on the GPU.
//   * Memory from cudaMalloc is filled with 0xff bytes (NaN for float) so reading it
//     before writing it shows; so is dynamic shared memory at the start of each block.
//     cudaMemcpy checks that the "device" side of a copy lies in a cudaMalloc block.
//
// What it does not do
//   * It cannot find data races, missing __syncthreads between a write and a read of
//     shared memory by threads that happen to be scheduled in a benign order, or
//     memory-model bugs (missing __threadfence, non-volatile spin loops): fibers switch
//     only at barriers and warp collectives, so everything else is sequential.
//   * Device and host memory are the same memory: a kernel that dereferences a host
//     pointer works here and faults on a GPU.
//   * Float results are those of the host compiler: __expf/__logf/__fdividef/rsqrtf are
//     libm-exact here but approximate on a GPU, and nvcc contracts a*b+c into FMA by
//     default (-fmad=true) while g++ -std=c++17 does not.  Compare with a tolerance, or
//     build both sides the same way (-fmad=false; -ffp-contract=fast -mfma here).
//   * Timing (events) is host wall time and means nothing for a GPU.
//   * Not provided: <<<>>>, __CUDA_ARCH__ (undefined here: device code paths guarded by
//     it take their host branch; test ARCHC_CUDA_EMU instead), __half/__nv_bfloat16,
//     textures, cooperative groups, dynamic parallelism, multiple devices, clock().
//   * __shared__ is `static`: a block's shared memory is a function-local static, so it
//     keeps the previous block's values (CUDA leaves it undefined) and `static __shared__`
//     does not compile.  Dynamic shared memory: write CU_EMU_EXTERN_SHARED(float, smem);
//     here it declares `float *smem` pointing at the launch's dynamic buffer (aligned to
//     256 bytes); under nvcc define it as `extern __shared__ float smem[]` yourself.
//   * __device__ expands to nothing, so a __device__ function defined in a header that
//     two translation units include must be `static`, `inline` or __forceinline__.
//   * A kernel's automatic variables live on a 256 KiB fiber stack with a guard page
//     below it: overflowing it is a SIGSEGV, not a message.
//
// Implementation notes: __syncthreads, __syncwarp, the shuffles and the votes are
// functions whose last default arguments are __builtin_FILE()/__builtin_LINE(): the
// call site, for the divergence checks and messages.  On x86-64 fibers switch with a
// few instructions of assembly (no signal mask syscall); elsewhere, or with -DCU_EMU_USE_UCONTEXT, with
// makecontext/swapcontext.  Under AddressSanitizer every switch is announced with
// __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber.  Stacks are mmapped
// once and reused for all launches; a thread that finishes hands its stack to the next
// thread of the block, so a block that never synchronises runs on one stack without a
// single context switch.  When a barrier completes the last thread to arrive carries on.
// Cost (x86-64, -O2): 64 blocks x 128 threads with two __syncthreads, about 0.5 ms a
// launch; without barriers, 0.05 ms; with ucontext, about ten times more.
//
// cu_emu_launch(grid, block, dynamic_smem, stream, body, name = nullptr, func = nullptr)
// runs body() once per thread; CU_EMU_LAUNCH passes the kernel's name and address.
#ifndef ARCHC_CUDA_EMU_H
#define ARCHC_CUDA_EMU_H

#ifndef ARCHC_CUDA_EMU
#define ARCHC_CUDA_EMU 1
#endif

// Standard headers first: the qualifier macros below must not reach them.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__) && !defined(CU_EMU_USE_UCONTEXT)
#define CU_EMU_USE_UCONTEXT 1
#endif
#ifdef CU_EMU_USE_UCONTEXT
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CU_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CU_EMU_ASAN 1
#endif
#endif
#ifdef CU_EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

// ───────────────────────────── qualifiers ─────────────────────────────
#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __forceinline__ inline
#define __noinline__ /* empty: libstdc++ spells __attribute__((__noinline__)) */
#define __launch_bounds__(...)
#define __shared__ static
#define __grid_constant__

// ───────────────────────────── built-in types ─────────────────────────────
struct uint3 { unsigned x, y, z; };
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};
struct int2 { int x, y; };
struct int4 { int x, y, z, w; };
struct uint2 { unsigned x, y; };
struct uint4 { unsigned x, y, z, w; };
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
inline float2 make_float2(float x, float y) { return float2{x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline int2 make_int2(int x, int y) { return int2{x, y}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return uint3{x, y, z}; }

// ───────────────────────────── host API types ─────────────────────────────
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalState = 401,
  cudaErrorNotReady = 600,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureUnmatched = 903,
  cudaErrorStreamCaptureImplicit = 906,
  cudaErrorUnknown = 999
};
typedef cudaError_t cudaError;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2
};
enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9
};
enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrClockRate = 13,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrMemoryClockRate = 36,
  cudaDevAttrGlobalMemoryBusWidth = 37,
  cudaDevAttrL2CacheSize = 38,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97
};
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventBlockingSync 0x01
#define cudaEventDisableTiming 0x02
#define cudaHostAllocDefault 0x00

// CUDA 13's cudaDeviceProp has no clockRate / memoryClockRate (use
// cudaDeviceGetAttribute); neither has this one, so code that compiles here compiles there.
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  size_t sharedMemPerMultiprocessor;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int major;
  int minor;
  int multiProcessorCount;
  int maxThreadsPerMultiProcessor;
  int memoryBusWidth;
  int l2CacheSize;
  size_t totalConstMem;
};

struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
typedef CUstream_st *cudaStream_t;
typedef CUevent_st *cudaEvent_t;
typedef CUgraph_st *cudaGraph_t;
typedef CUgraphExec_st *cudaGraphExec_t;

// ───────────────────────────── the emulator ─────────────────────────────
namespace cu_emu {

constexpr size_t kStackSize = 256 * 1024;
constexpr unsigned kMaxThreads = 1024;
constexpr size_t kStaticSmemLimit = 48 * 1024;   // without cudaFuncSetAttribute
constexpr size_t kOptinSmemLimit = 227 * 1024;   // sm_90

enum : unsigned char { T_NEW, T_READY, T_RUNNING, T_WAIT_BLOCK, T_WAIT_WARP, T_DONE };
enum : unsigned char { C_SYNCWARP, C_SHFL, C_BALLOT };

struct Fiber {
  void *sp = nullptr;          // saved stack pointer (x86-64 path)
#ifdef CU_EMU_USE_UCONTEXT
  ucontext_t uc;
#endif
  char *map = nullptr;         // mapping (guard page + stack), nullptr for the host stack
  const void *stack_lo = nullptr;
  size_t stack_size = 0;
  void *asan_fake = nullptr;
};

struct Thread {
  Fiber *fiber;
  uint3 idx;
  unsigned char state;
  unsigned char ckind;       // warp collective kind
  unsigned wmask;            // lanes named by the warp collective (this lane included)
  int src;                   // shuffle: source lane, or -1 for "own value"
  uint64_t val;              // shuffle value / ballot predicate / __syncthreads_* predicate
  uint64_t result;           // what the collective returns to this lane
  unsigned group;            // lanes that took part in the completed collective
  const char *file;          // where it waits (messages)
  int line;
};

struct Op {                  // a captured stream operation
  std::function<void()> run;
};

struct State {
  // the launch in progress
  bool in_launch = false;
  dim3 grid, block;
  const char *kname = nullptr;
  const std::function<void()> *body = nullptr;
  uint3 bidx{0, 0, 0};
  uint3 tidx{0, 0, 0};
  dim3 bdim, gdim;
  unsigned nthreads = 0, nwarps = 0;
  Thread threads[kMaxThreads];
  Thread *cur = nullptr;
  // block scheduling
  unsigned queue[kMaxThreads];
  unsigned qhead = 0, qcount = 0;
  unsigned alive = 0, block_waiting = 0;
  const char *block_file = nullptr;
  int block_line = 0;
  uint64_t block_result = 0;
  uint32_t warp_alive[kMaxThreads / 32];
  uint32_t warp_waiting[kMaxThreads / 32];
  // fibers
  Fiber host;
  std::vector<Fiber *> all_fibers, free_fibers;
  Fiber *running = nullptr;
  // dynamic shared memory
  unsigned char *dyn_smem = nullptr;
  size_t dyn_smem_cap = 0, dyn_smem_size = 0;
  // host API
  cudaError_t last_error = cudaSuccess;
  std::map<uintptr_t, size_t> dev_allocs, host_allocs;
  size_t dev_allocated = 0;
  std::map<const void *, int> func_max_dyn_smem;
  int capturing = 0;              // streams capturing now
  int capturing_strict = 0;       // ... of them not in relaxed mode
  std::vector<CUstream_st *> capture_streams;
  ~State() {   // process exit: what the driver would tear down with the context
    for (Fiber *f : all_fibers) {
      if (!in_launch) munmap(f->map, kStackSize + 4096);
      delete f;
    }
    for (auto &a : dev_allocs) std::free((void *)a.first);
    for (auto &a : host_allocs) std::free((void *)a.first);
    std::free(dyn_smem);
  }
};
inline State g;

[[noreturn]] inline void die(const char *fmt, const char *a = "", const char *b = "") {
  std::fflush(stdout);
  std::fprintf(stderr, "cuda_emu: ");
  std::fprintf(stderr, fmt, a, b);
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  std::abort();
}

inline std::string launch_desc() {
  char buf[256];
  std::snprintf(buf, sizeof buf, "kernel %s launched with grid (%u,%u,%u) block (%u,%u,%u), in block (%u,%u,%u)",
                g.kname ? g.kname : "?", g.grid.x, g.grid.y, g.grid.z, g.block.x, g.block.y, g.block.z,
                g.bidx.x, g.bidx.y, g.bidx.z);
  return buf;
}

// ── context switch
#ifndef CU_EMU_USE_UCONTEXT
// cu_emu_switch(void **save_sp, void *new_sp): push the callee-saved registers, swap
// stacks, pop.  The FP control words are shared by all fibers and not switched.
// Weak so that every translation unit may carry a copy.
__asm__(
    ".text\n"
    ".weak cu_emu_switch\n"
    ".hidden cu_emu_switch\n"
    ".type cu_emu_switch,@function\n"
    "cu_emu_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size cu_emu_switch,.-cu_emu_switch\n"
    ".weak cu_emu_fiber_start\n"
    ".hidden cu_emu_fiber_start\n"
    ".type cu_emu_fiber_start,@function\n"
    "cu_emu_fiber_start:\n"   // entered by `ret` with r12 = entry function, rsp 16-aligned
    "  callq *%r12\n"
    "  ud2\n"
    ".size cu_emu_fiber_start,.-cu_emu_fiber_start\n");
extern "C" void cu_emu_switch(void **save_sp, void *new_sp);
extern "C" void cu_emu_fiber_start();
#endif

inline void fiber_main();
struct Thread;
inline void thread_exited(Thread *t);

// Switch from the running fiber to `to`; returns when something switches back.
inline void switch_to(Fiber *to) {
  Fiber *from = g.running;
  if (from == to) return;
  g.running = to;
#ifdef CU_EMU_ASAN
  __sanitizer_start_switch_fiber(&from->asan_fake, to->stack_lo, to->stack_size);
#endif
#ifdef CU_EMU_USE_UCONTEXT
  swapcontext(&from->uc, &to->uc);
#else
  cu_emu_switch(&from->sp, to->sp);
#endif
#ifdef CU_EMU_ASAN
  const void *lo;
  size_t sz;
  __sanitizer_finish_switch_fiber(from->asan_fake, &lo, &sz);
  if (g.host.stack_lo == nullptr && lo) { g.host.stack_lo = lo; g.host.stack_size = sz; }
#endif
}

inline void fiber_entry_first() {
#ifdef CU_EMU_ASAN
  const void *lo;
  size_t sz;
  __sanitizer_finish_switch_fiber(nullptr, &lo, &sz);
  if (g.host.stack_lo == nullptr && lo) { g.host.stack_lo = lo; g.host.stack_size = sz; }
#endif
  fiber_main();
}

#ifdef CU_EMU_USE_UCONTEXT
inline void fiber_entry_uc() { fiber_entry_first(); std::abort(); }
#endif

inline Fiber *new_fiber() {
  if (!g.free_fibers.empty()) {
    Fiber *f = g.free_fibers.back();
    g.free_fibers.pop_back();
    return f;
  }
  Fiber *f = new Fiber;
  void *m = mmap(nullptr, kStackSize + 4096, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (m == MAP_FAILED) die("cannot map a fiber stack%s%s");
  mprotect(m, 4096, PROT_NONE);   // guard page below the stack
  f->map = (char *)m;
  f->stack_lo = f->map + 4096;
  f->stack_size = kStackSize;
#ifdef CU_EMU_USE_UCONTEXT
  getcontext(&f->uc);
  f->uc.uc_stack.ss_sp = f->map + 4096;
  f->uc.uc_stack.ss_size = kStackSize;
  f->uc.uc_link = nullptr;
  makecontext(&f->uc, (void (*)())fiber_entry_uc, 0);
#else
  // Initial frame: r15 r14 r13 r12 rbx rbp, then cu_emu_fiber_start as the return
  // address; after its `ret` (sp + 56) rsp must be 16-byte aligned for the call it makes.
  // The tops are staggered by 64-byte steps so that the fibers' hot frames do not all
  // fall into the same cache sets.
  uintptr_t top = ((uintptr_t)(f->map + 4096 + kStackSize - 64 * (g.all_fibers.size() % 64))) & ~(uintptr_t)15;
  uint64_t *sp = (uint64_t *)(top - 128 - 8);
  sp[0] = 0; sp[1] = 0; sp[2] = 0;
  sp[3] = (uint64_t)(uintptr_t)&fiber_entry_first;   // r12
  sp[4] = 0; sp[5] = 0;
  sp[6] = (uint64_t)(uintptr_t)&cu_emu_fiber_start;
  f->sp = sp;
#endif
  g.all_fibers.push_back(f);
  return f;
}

inline void set_current(Thread *t) {
  g.cur = t;
  g.tidx = t->idx;
}

inline void push_ready(unsigned i) {
  g.threads[i].state = T_READY;
  g.queue[(g.qhead + g.qcount) % g.nthreads] = i;
  g.qcount++;
}

inline Thread *pop_ready() {
  if (g.qcount == 0) return nullptr;
  unsigned i = g.queue[g.qhead];
  g.qhead = (g.qhead + 1) % g.nthreads;
  g.qcount--;
  return &g.threads[i];
}

// The running thread cannot continue: run something else until it is released.
inline void block_current() {
  Thread *self = g.cur;
  Thread *next = pop_ready();
  if (!next) {
    switch_to(&g.host);   // nothing runnable: the host reports the deadlock
  } else if (next->state == T_NEW || next->fiber == nullptr) {
    Fiber *f = new_fiber();
    next->fiber = f;
    set_current(next);
    switch_to(f);
  } else {
    set_current(next);
    switch_to(next->fiber);
  }
  // resumed by whoever released us (it set g.cur to us)
  (void)self;
}

// The body of every fiber: run threads until none is left to start here.
inline void fiber_main() {
  for (;;) {
    Thread *t = g.cur;
    t->state = T_RUNNING;
    t->fiber = g.running;
    (*g.body)();
    t->state = T_DONE;
    t->fiber = nullptr;
    thread_exited(t);
    Thread *next = pop_ready();
    while (next && next->state == T_NEW) {   // start the next thread on this stack
      set_current(next);
      next->state = T_RUNNING;
      next->fiber = g.running;
      (*g.body)();
      next->state = T_DONE;
      next->fiber = nullptr;
      thread_exited(next);
      next = pop_ready();
    }
    g.free_fibers.push_back(g.running);
    if (next) {
      set_current(next);
      switch_to(next->fiber);
    } else {
      switch_to(&g.host);
    }
    // resumed as a free fiber, with g.cur a new thread
  }
}

inline unsigned lin_of(const Thread *t) { return (unsigned)(t - g.threads); }

// ── block barrier
inline void release_block() {
  g.block_waiting = 0;
  g.block_file = nullptr;
  Thread *self = g.cur;
  for (unsigned i = 0; i < g.nthreads; i++) {
    Thread *t = &g.threads[i];
    if (t->state != T_WAIT_BLOCK) continue;
    t->result = g.block_result;   // per thread: the next barrier may start before it resumes
    if (t == self) t->state = T_RUNNING;
    else push_ready(i);
  }
}

inline uint64_t block_sync(const char *file, int line, int kind, int pred) {
  if (!g.in_launch) die("__syncthreads() called outside a kernel (at %s:%s)", file, std::to_string(line).c_str());
  Thread *t = g.cur;
  if (g.block_waiting > 0 && (g.block_line != line || (g.block_file != file && std::strcmp(g.block_file, file) != 0))) {
    std::string msg = launch_desc();
    std::fflush(stdout);
    std::fprintf(stderr,
                 "cuda_emu: divergent __syncthreads in %s: thread (%u,%u,%u) is at %s:%d while %u thread(s) "
                 "wait at %s:%d\n",
                 msg.c_str(), t->idx.x, t->idx.y, t->idx.z, file, line, g.block_waiting, g.block_file,
                 g.block_line);
    std::fflush(stderr);
    std::abort();
  }
  if (g.block_waiting == 0) {
    g.block_file = file;
    g.block_line = line;
    g.block_result = kind == 2 ? 1 : 0;   // count/or start at 0, and at 1
  }
  if (kind == 1) g.block_result += pred != 0;        // count
  else if (kind == 2) g.block_result &= pred != 0;   // and
  else if (kind == 3) g.block_result |= pred != 0;   // or
  t->state = T_WAIT_BLOCK;
  t->file = file;
  t->line = line;
  g.block_waiting++;
  if (g.block_waiting == g.alive) {
    release_block();
  } else {
    block_current();
  }
  return t->result;
}

// ── warp collectives
inline void complete_warp_group(unsigned w, unsigned need) {
  Thread *base = &g.threads[w * 32];
  unsigned char kind = 0xff;
  for (unsigned l = 0; l < 32; l++)
    if (need >> l & 1) {
      Thread *t = &base[l];
      if (kind == 0xff) kind = t->ckind;
      else if (t->ckind != kind || t->wmask != base[__builtin_ctz(need)].wmask) {
        std::string msg = launch_desc();
        std::fflush(stdout);
        std::fprintf(stderr,
                     "cuda_emu: divergent warp collectives in %s: lane %u of warp %u is at %s:%d, lane %u at %s:%d "
                     "(different operations or masks)\n",
                     msg.c_str(), l, w, t->file, t->line, (unsigned)__builtin_ctz(need),
                     base[__builtin_ctz(need)].file, base[__builtin_ctz(need)].line);
        std::fflush(stderr);
        std::abort();
      }
    }
  uint64_t ballot = 0;
  if (kind == C_BALLOT)
    for (unsigned l = 0; l < 32; l++)
      if ((need >> l & 1) && base[l].val) ballot |= 1ull << l;
  for (unsigned l = 0; l < 32; l++)
    if (need >> l & 1) {
      Thread *t = &base[l];
      if (kind == C_SHFL) {
        int s = t->src;
        t->result = (s >= 0 && (need >> s & 1)) ? base[s].val : t->val;
      } else {
        t->result = ballot;
      }
      t->group = need;
    }
  g.warp_waiting[w] &= ~need;
  Thread *self = g.cur;
  for (unsigned l = 0; l < 32; l++)
    if (need >> l & 1) {
      Thread *t = &base[l];
      if (t == self) t->state = T_RUNNING;
      else push_ready(w * 32 + l);
    }
}

// Release every group of waiting lanes of warp w whose members have all arrived.
inline void try_release_warp(unsigned w) {
  unsigned waiting = g.warp_waiting[w];
  while (waiting) {
    unsigned l = __builtin_ctz(waiting);
    unsigned need = g.threads[w * 32 + l].wmask & g.warp_alive[w];
    if ((g.warp_waiting[w] & need) == need) {
      complete_warp_group(w, need);
      waiting = g.warp_waiting[w];
    } else {
      waiting &= ~(1u << l);
    }
  }
}

inline uint64_t warp_collective(unsigned char kind, unsigned mask, int src, uint64_t val, const char *file,
                                int line) {
  if (!g.in_launch) die("warp collective called outside a kernel%s%s");
  Thread *t = g.cur;
  unsigned lin = lin_of(t), w = lin / 32, lane = lin % 32;
  t->ckind = kind;
  t->wmask = mask | (1u << lane);
  t->src = src;
  t->val = val;
  t->file = file;
  t->line = line;
  t->state = T_WAIT_WARP;
  g.warp_waiting[w] |= 1u << lane;
  unsigned need = t->wmask & g.warp_alive[w];   // only this lane's group can be complete now
  if ((g.warp_waiting[w] & need) == need) complete_warp_group(w, need);
  else block_current();
  return t->result;
}

inline void thread_exited(Thread *t) {
  unsigned lin = lin_of(t), w = lin / 32;
  g.alive--;
  g.warp_alive[w] &= ~(1u << (lin % 32));
  g.cur = nullptr;
  if (g.block_waiting > 0 && g.block_waiting == g.alive) release_block();
  if (g.warp_waiting[w]) try_release_warp(w);
}

[[noreturn]] inline void report_deadlock() {
  std::string msg = launch_desc();
  unsigned at_block = 0, at_warp = 0, done = 0;
  const Thread *wb = nullptr, *ww = nullptr;
  for (unsigned i = 0; i < g.nthreads; i++) {
    const Thread *t = &g.threads[i];
    if (t->state == T_WAIT_BLOCK) { at_block++; if (!wb) wb = t; }
    else if (t->state == T_WAIT_WARP) { at_warp++; if (!ww) ww = t; }
    else if (t->state == T_DONE) done++;
  }
  std::fflush(stdout);
  std::fprintf(stderr, "cuda_emu: deadlock in %s: %u thread(s) wait at __syncthreads", msg.c_str(), at_block);
  if (wb) std::fprintf(stderr, " (thread (%u,%u,%u) at %s:%d)", wb->idx.x, wb->idx.y, wb->idx.z, wb->file, wb->line);
  std::fprintf(stderr, ", %u at a warp barrier", at_warp);
  if (ww) std::fprintf(stderr, " (thread (%u,%u,%u) at %s:%d)", ww->idx.x, ww->idx.y, ww->idx.z, ww->file, ww->line);
  std::fprintf(stderr, ", %u exited: divergent __syncthreads or warp collective?\n", done);
  std::fflush(stderr);
  std::abort();
}

inline void run_block() {
  unsigned n = g.nthreads;
  g.alive = n;
  g.block_waiting = 0;
  g.block_file = nullptr;
  g.qhead = 0;
  g.qcount = 0;
  for (unsigned w = 0; w < g.nwarps; w++) {
    unsigned lanes = std::min(32u, n - w * 32);
    g.warp_alive[w] = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1);
    g.warp_waiting[w] = 0;
  }
  if (g.dyn_smem_size) std::memset(g.dyn_smem, 0xff, g.dyn_smem_size);
  if (n == 1) {   // one thread: no barrier ever waits, run it on this stack
    Thread *t = &g.threads[0];
    t->state = T_RUNNING;
    t->fiber = nullptr;
    set_current(t);
    (*g.body)();
    t->state = T_DONE;
    g.alive = 0;
    g.cur = nullptr;
    return;
  }
  for (unsigned i = 0; i < n; i++) {
    g.threads[i].state = T_NEW;
    g.threads[i].fiber = nullptr;
    g.queue[i] = i;
  }
  g.qcount = n;
  Thread *first = pop_ready();
  set_current(first);
  switch_to(new_fiber());
  if (g.alive > 0) report_deadlock();
}

inline void run_launch(dim3 grid, dim3 block, size_t dyn_smem, const std::function<void()> &body,
                       const char *name) {
  if (g.in_launch) die("kernel launch from inside a kernel (dynamic parallelism) is not supported%s%s");
  g.in_launch = true;
  g.grid = grid;
  g.block = block;
  g.kname = name;
  g.body = &body;
  g.gdim = grid;
  g.bdim = block;
  g.nthreads = block.x * block.y * block.z;
  g.nwarps = (g.nthreads + 31) / 32;
  g.running = &g.host;
  if (dyn_smem > g.dyn_smem_cap) {
    std::free(g.dyn_smem);
    size_t cap = (dyn_smem + 255) & ~(size_t)255;
    g.dyn_smem = (unsigned char *)std::aligned_alloc(256, cap);
    if (!g.dyn_smem) die("out of memory for dynamic shared memory%s%s");
    g.dyn_smem_cap = cap;
  }
  g.dyn_smem_size = dyn_smem;
  unsigned i = 0;
  for (unsigned z = 0; z < block.z; z++)
    for (unsigned y = 0; y < block.y; y++)
      for (unsigned x = 0; x < block.x; x++) g.threads[i++].idx = uint3{x, y, z};
  for (unsigned bz = 0; bz < grid.z; bz++)
    for (unsigned by = 0; by < grid.y; by++)
      for (unsigned bx = 0; bx < grid.x; bx++) {
        g.bidx = uint3{bx, by, bz};
        run_block();
      }
  g.in_launch = false;
  g.body = nullptr;
  g.kname = nullptr;
}

inline cudaError_t set_error(cudaError_t e) {
  if (e != cudaSuccess) g.last_error = e;
  return e;
}

template <class T>
inline uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof v);
  return b;
}
template <class T>
inline T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

inline unsigned lane_id() { return lin_of(g.cur) % 32; }

// PTX shfl: segmask = 32 - width; the source lane j is used when it lies in [minLane,
// maxLane] of the caller's segment (bfly/down/idx: j <= maxLane; up: j >= minLane).
enum ShflMode { SHFL_IDX, SHFL_UP, SHFL_DOWN, SHFL_BFLY };
inline int shfl_src(ShflMode mode, int b, int width) {
  if (width <= 0 || width > 32 || (width & (width - 1)))
    die("shuffle width must be a power of two in 1..32%s%s");
  int lane = (int)lane_id();
  int segmask = 32 - width;
  int minLane = lane & segmask;
  int maxLane = minLane | (31 & ~segmask);
  int j;
  bool ok;
  switch (mode) {
  case SHFL_UP: j = lane - b; ok = j >= minLane; break;
  case SHFL_DOWN: j = lane + b; ok = j <= maxLane; break;
  case SHFL_BFLY: j = lane ^ (b & 31); ok = j <= maxLane; break;
  default: j = minLane | (b & 31 & ~segmask); ok = j <= maxLane; break;
  }
  return ok ? j : -1;
}

}  // namespace cu_emu

// ───────────────────────────── built-in variables ─────────────────────────────
inline const uint3 &threadIdx = cu_emu::g.tidx;
inline const uint3 &blockIdx = cu_emu::g.bidx;
inline const dim3 &blockDim = cu_emu::g.bdim;
inline const dim3 &gridDim = cu_emu::g.gdim;
constexpr int warpSize = 32;

// ───────────────────────────── synchronisation ─────────────────────────────
// The call site (file, line) comes from default arguments, so that divergent
// __syncthreads and mismatched warp collectives can be named.
#define CU_EMU_SITE const char *file_ = __builtin_FILE(), int line_ = __builtin_LINE()
inline void __syncthreads(CU_EMU_SITE) { cu_emu::block_sync(file_, line_, 0, 0); }
inline int __syncthreads_count(int p, CU_EMU_SITE) { return (int)cu_emu::block_sync(file_, line_, 1, p); }
inline int __syncthreads_and(int p, CU_EMU_SITE) { return (int)cu_emu::block_sync(file_, line_, 2, p); }
inline int __syncthreads_or(int p, CU_EMU_SITE) { return (int)cu_emu::block_sync(file_, line_, 3, p); }
inline void __syncwarp(unsigned mask = 0xffffffffu, CU_EMU_SITE) {
  cu_emu::warp_collective(cu_emu::C_SYNCWARP, mask, -1, 0, file_, line_);
}
namespace cu_emu {
template <class T>
inline T shfl(ShflMode mode, unsigned mask, T v, int b, int width, const char *file, int line) {
  int src = shfl_src(mode, b, width);
  return from_bits<T>(warp_collective(C_SHFL, mask, src, to_bits(v), file, line));
}
}  // namespace cu_emu
template <class T> inline T __shfl_sync(unsigned mask, T v, int src, int width = 32, CU_EMU_SITE) {
  return cu_emu::shfl(cu_emu::SHFL_IDX, mask, v, src, width, file_, line_);
}
template <class T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32, CU_EMU_SITE) {
  return cu_emu::shfl(cu_emu::SHFL_UP, mask, v, (int)delta, width, file_, line_);
}
template <class T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32, CU_EMU_SITE) {
  return cu_emu::shfl(cu_emu::SHFL_DOWN, mask, v, (int)delta, width, file_, line_);
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32, CU_EMU_SITE) {
  return cu_emu::shfl(cu_emu::SHFL_BFLY, mask, v, lane_mask, width, file_, line_);
}
inline unsigned __ballot_sync(unsigned mask, int pred, CU_EMU_SITE) {
  return (unsigned)cu_emu::warp_collective(cu_emu::C_BALLOT, mask, -1, pred != 0, file_, line_);
}
inline int __any_sync(unsigned mask, int pred, CU_EMU_SITE) { return __ballot_sync(mask, pred, file_, line_) != 0; }
inline int __all_sync(unsigned mask, int pred, CU_EMU_SITE) {
  return __ballot_sync(mask, pred, file_, line_) == cu_emu::g.cur->group;
}
#undef CU_EMU_SITE

inline unsigned __activemask() { return cu_emu::g.warp_alive[cu_emu::lin_of(cu_emu::g.cur) / 32]; }
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __threadfence_system() {}
inline void __nanosleep(unsigned) {}

// ───────────────────────────── atomics ─────────────────────────────
// Fibers only switch at barriers, so a read-modify-write is atomic by construction.
#define CU_EMU_ATOMIC2(name, T, expr) \
  inline T name(T *p, T v) { T old = *p; *p = (expr); return old; }
CU_EMU_ATOMIC2(atomicAdd, int, old + v)
CU_EMU_ATOMIC2(atomicAdd, unsigned, old + v)
CU_EMU_ATOMIC2(atomicAdd, unsigned long long, old + v)
CU_EMU_ATOMIC2(atomicAdd, float, old + v)
CU_EMU_ATOMIC2(atomicAdd, double, old + v)
CU_EMU_ATOMIC2(atomicSub, int, old - v)
CU_EMU_ATOMIC2(atomicSub, unsigned, old - v)
CU_EMU_ATOMIC2(atomicMax, int, old > v ? old : v)
CU_EMU_ATOMIC2(atomicMax, unsigned, old > v ? old : v)
CU_EMU_ATOMIC2(atomicMax, unsigned long long, old > v ? old : v)
CU_EMU_ATOMIC2(atomicMax, long long, old > v ? old : v)
CU_EMU_ATOMIC2(atomicMin, int, old < v ? old : v)
CU_EMU_ATOMIC2(atomicMin, unsigned, old < v ? old : v)
CU_EMU_ATOMIC2(atomicMin, unsigned long long, old < v ? old : v)
CU_EMU_ATOMIC2(atomicMin, long long, old < v ? old : v)
CU_EMU_ATOMIC2(atomicExch, int, v)
CU_EMU_ATOMIC2(atomicExch, unsigned, v)
CU_EMU_ATOMIC2(atomicExch, unsigned long long, v)
CU_EMU_ATOMIC2(atomicExch, float, v)
CU_EMU_ATOMIC2(atomicAnd, int, old & v)
CU_EMU_ATOMIC2(atomicAnd, unsigned, old & v)
CU_EMU_ATOMIC2(atomicOr, int, old | v)
CU_EMU_ATOMIC2(atomicOr, unsigned, old | v)
CU_EMU_ATOMIC2(atomicXor, int, old ^ v)
CU_EMU_ATOMIC2(atomicXor, unsigned, old ^ v)
CU_EMU_ATOMIC2(atomicInc, unsigned, old >= v ? 0u : old + 1)
CU_EMU_ATOMIC2(atomicDec, unsigned, (old == 0 || old > v) ? v : old - 1)
#undef CU_EMU_ATOMIC2
inline int atomicCAS(int *p, int cmp, int v) { int old = *p; if (old == cmp) *p = v; return old; }
inline unsigned atomicCAS(unsigned *p, unsigned cmp, unsigned v) { unsigned old = *p; if (old == cmp) *p = v; return old; }
inline unsigned long long atomicCAS(unsigned long long *p, unsigned long long cmp, unsigned long long v) {
  unsigned long long old = *p;
  if (old == cmp) *p = v;
  return old;
}

// ───────────────────────────── intrinsics ─────────────────────────────
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline long long __double_as_longlong(double d) { long long i; std::memcpy(&i, &d, 8); return i; }
inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }
inline float __expf(float x) { return std::exp(x); }
inline float __exp10f(float x) { return std::pow(10.0f, x); }
inline float __logf(float x) { return std::log(x); }
inline float __log2f(float x) { return std::log2(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanf(float x) { return std::tan(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / std::sqrt(x); }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)); }
inline int __float2int_rn(float x) { return (int)std::nearbyint(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline float __int2float_rn(int x) { return (float)x; }
template <class T> inline T __ldg(const T *p) { return *p; }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
  return (x >> 16) | (x << 16);
}
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
// CUDA's global min/max overloads (std::min/std::max are templates in namespace std,
// untouched; a non-template exact match wins over them after `using namespace std`).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline unsigned min(int a, unsigned b) { return min((unsigned)a, b); }
inline unsigned max(int a, unsigned b) { return max((unsigned)a, b); }
inline unsigned min(unsigned a, int b) { return min(a, (unsigned)b); }
inline unsigned max(unsigned a, int b) { return max(a, (unsigned)b); }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }

// Dynamic shared memory (see the header comment).
template <class T> inline T *cu_emu_dynamic_smem() { return reinterpret_cast<T *>(cu_emu::g.dyn_smem); }
#define CU_EMU_EXTERN_SHARED(T, name) T *name = cu_emu_dynamic_smem<T>()

// ───────────────────────────── host API ─────────────────────────────
struct CUstream_st {
  unsigned flags = 0;
  bool capturing = false;
  bool invalidated = false;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::vector<cu_emu::Op> ops;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point t;
  bool recorded = false;
};
struct CUgraph_st { std::vector<cu_emu::Op> ops; };
struct CUgraphExec_st { std::vector<cu_emu::Op> ops; };

namespace cu_emu {
inline bool no_device() {
  const char *e = std::getenv("ARCHC_CUDA_EMU_NO_DEVICE");
  return e && e[0] && std::strcmp(e, "0") != 0;
}
// Is [p, p+n) inside one block of `m` (address -> size)?
inline bool in_allocs(const std::map<uintptr_t, size_t> &m, const void *p, size_t n) {
  uintptr_t a = (uintptr_t)p;
  auto it = m.upper_bound(a);
  if (it == m.begin()) return false;
  --it;
  return a >= it->first && a - it->first + n <= it->second;
}
inline bool is_dev(const void *p, size_t n) { return in_allocs(g.dev_allocs, p, n); }
inline cudaError_t check_copy(void *dst, const void *src, size_t n, cudaMemcpyKind kind) {
  if (n == 0) return cudaSuccess;
  if (!dst || !src) return cudaErrorInvalidValue;
  switch (kind) {
  case cudaMemcpyHostToHost: return cudaSuccess;
  case cudaMemcpyHostToDevice: return is_dev(dst, n) ? cudaSuccess : cudaErrorInvalidValue;
  case cudaMemcpyDeviceToHost: return is_dev(src, n) ? cudaSuccess : cudaErrorInvalidValue;
  case cudaMemcpyDeviceToDevice: return is_dev(dst, n) && is_dev(src, n) ? cudaSuccess : cudaErrorInvalidValue;
  case cudaMemcpyDefault: return cudaSuccess;
  }
  return cudaErrorInvalidMemcpyDirection;
}
// An unsafe call during a global/thread-local mode capture fails and invalidates the
// capture (cudaStreamEndCapture then returns cudaErrorStreamCaptureInvalidated).
inline cudaError_t capture_violation(cudaError_t e) {
  for (CUstream_st *cs : g.capture_streams)
    if (cs->mode != cudaStreamCaptureModeRelaxed) cs->invalidated = true;
  return e;
}
// A synchronous call that CUDA refuses while a stream captures in global/thread-local mode.
inline cudaError_t refuse_during_capture() {
  if (g.capturing_strict == 0) return cudaSuccess;
  return capture_violation(cudaErrorStreamCaptureUnsupported);
}
// Run `op` now, or record it when `s` is capturing.  Work on the legacy stream while a
// stream captures in global mode is cudaErrorStreamCaptureImplicit in CUDA.
inline cudaError_t enqueue(cudaStream_t s, std::function<void()> op) {
  if (s && s->capturing) {
    if (s->invalidated) return cudaErrorStreamCaptureInvalidated;
    s->ops.push_back(Op{std::move(op)});
    return cudaSuccess;
  }
  if (!s && g.capturing_strict > 0) return capture_violation(cudaErrorStreamCaptureImplicit);
  op();
  return cudaSuccess;
}
inline void capture_start(CUstream_st *s) {
  g.capturing++;
  if (s->mode != cudaStreamCaptureModeRelaxed) g.capturing_strict++;
  g.capture_streams.push_back(s);
}
inline void capture_stop(CUstream_st *s) {
  s->capturing = false;
  g.capturing--;
  if (s->mode != cudaStreamCaptureModeRelaxed) g.capturing_strict--;
  g.capture_streams.erase(std::find(g.capture_streams.begin(), g.capture_streams.end(), s));
}
}  // namespace cu_emu

inline const char *cudaGetErrorName(cudaError_t e) {
  switch (e) {
#define CU_EMU_E(x) case x: return #x;
    CU_EMU_E(cudaSuccess) CU_EMU_E(cudaErrorInvalidValue) CU_EMU_E(cudaErrorMemoryAllocation)
    CU_EMU_E(cudaErrorInvalidConfiguration) CU_EMU_E(cudaErrorInvalidDevicePointer)
    CU_EMU_E(cudaErrorInvalidMemcpyDirection) CU_EMU_E(cudaErrorNoDevice) CU_EMU_E(cudaErrorInvalidDevice)
    CU_EMU_E(cudaErrorInvalidResourceHandle) CU_EMU_E(cudaErrorIllegalState) CU_EMU_E(cudaErrorNotReady)
    CU_EMU_E(cudaErrorLaunchFailure) CU_EMU_E(cudaErrorNotSupported) CU_EMU_E(cudaErrorStreamCaptureUnsupported)
    CU_EMU_E(cudaErrorStreamCaptureInvalidated) CU_EMU_E(cudaErrorStreamCaptureUnmatched)
    CU_EMU_E(cudaErrorStreamCaptureImplicit) CU_EMU_E(cudaErrorUnknown)
#undef CU_EMU_E
  }
  return "cudaErrorUnknown";
}
inline const char *cudaGetErrorString(cudaError_t e) {
  switch (e) {
  case cudaSuccess: return "no error";
  case cudaErrorInvalidValue: return "invalid argument";
  case cudaErrorMemoryAllocation: return "out of memory";
  case cudaErrorInvalidConfiguration: return "invalid configuration argument";
  case cudaErrorNoDevice: return "no CUDA-capable device is detected";
  case cudaErrorInvalidDevice: return "invalid device ordinal";
  case cudaErrorInvalidResourceHandle: return "invalid resource handle";
  case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
  case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
  case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
  case cudaErrorStreamCaptureUnmatched: return "capture was not initiated in this stream";
  case cudaErrorStreamCaptureImplicit: return "operation would make the legacy stream depend on a capturing blocking stream";
  default: return cudaGetErrorName(e);
  }
}
inline cudaError_t cudaGetLastError() {
  cudaError_t e = cu_emu::g.last_error;
  cu_emu::g.last_error = cudaSuccess;
  return e;
}
inline cudaError_t cudaPeekAtLastError() { return cu_emu::g.last_error; }

// ── devices
inline cudaError_t cudaGetDeviceCount(int *n) {
  if (cu_emu::no_device()) { *n = 0; return cu_emu::set_error(cudaErrorNoDevice); }
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int d) {
  if (cu_emu::no_device()) return cu_emu::set_error(cudaErrorNoDevice);
  return cu_emu::set_error(d == 0 ? cudaSuccess : cudaErrorInvalidDevice);
}
inline cudaError_t cudaGetDevice(int *d) {
  if (cu_emu::no_device()) return cu_emu::set_error(cudaErrorNoDevice);
  *d = 0;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceReset() { return cudaSuccess; }
namespace cu_emu {
constexpr size_t kTotalMem = (size_t)16 << 30;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
  if (cu_emu::no_device()) return cu_emu::set_error(cudaErrorNoDevice);
  if (d != 0) return cu_emu::set_error(cudaErrorInvalidDevice);
  std::memset(p, 0, sizeof *p);
  std::snprintf(p->name, sizeof p->name, "archc CPU emulator");
  p->totalGlobalMem = cu_emu::kTotalMem;
  p->sharedMemPerBlock = cu_emu::kStaticSmemLimit;
  p->sharedMemPerBlockOptin = cu_emu::kOptinSmemLimit;
  p->sharedMemPerMultiprocessor = 228 * 1024;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024; p->maxThreadsDim[1] = 1024; p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 0x7fffffff; p->maxGridSize[1] = 65535; p->maxGridSize[2] = 65535;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 1;
  p->maxThreadsPerMultiProcessor = 2048;
  p->memoryBusWidth = 64;
  p->l2CacheSize = 4 << 20;
  p->totalConstMem = 65536;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int d) {
  if (cu_emu::no_device()) return cu_emu::set_error(cudaErrorNoDevice);
  if (d != 0) return cu_emu::set_error(cudaErrorInvalidDevice);
  switch (a) {
  case cudaDevAttrMaxThreadsPerBlock: *v = 1024; break;
  case cudaDevAttrMaxSharedMemoryPerBlock: *v = (int)cu_emu::kStaticSmemLimit; break;
  case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = (int)cu_emu::kOptinSmemLimit; break;
  case cudaDevAttrWarpSize: *v = 32; break;
  case cudaDevAttrClockRate: *v = 1000000; break;         // kHz
  case cudaDevAttrMemoryClockRate: *v = 1000000; break;   // kHz
  case cudaDevAttrGlobalMemoryBusWidth: *v = 64; break;
  case cudaDevAttrMultiProcessorCount: *v = 1; break;
  case cudaDevAttrL2CacheSize: *v = 4 << 20; break;
  case cudaDevAttrComputeCapabilityMajor: *v = 9; break;
  case cudaDevAttrComputeCapabilityMinor: *v = 0; break;
  default: return cu_emu::set_error(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}
inline cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total) {
  *total = cu_emu::kTotalMem;
  *free_b = cu_emu::kTotalMem > cu_emu::g.dev_allocated ? cu_emu::kTotalMem - cu_emu::g.dev_allocated : 0;
  return cudaSuccess;
}

// ── memory
inline cudaError_t cudaMalloc(void **p, size_t n) {
  using namespace cu_emu;
  if (!p) return set_error(cudaErrorInvalidValue);
  *p = nullptr;
  if (cudaError_t e = refuse_during_capture()) return set_error(e);
  if (n == 0) return cudaSuccess;
  size_t rounded = (n + 255) & ~(size_t)255;
  void *m = std::aligned_alloc(256, rounded);
  if (!m) return set_error(cudaErrorMemoryAllocation);
  std::memset(m, 0xff, rounded);   // not zero: reading unwritten device memory shows (NaN)
  g.dev_allocs[(uintptr_t)m] = n;
  g.dev_allocated += rounded;
  *p = m;
  return cudaSuccess;
}
template <class T> inline cudaError_t cudaMalloc(T **p, size_t n) { return cudaMalloc((void **)p, n); }
inline cudaError_t cudaMallocManaged(void **p, size_t n, unsigned = 1) { return cudaMalloc(p, n); }
template <class T> inline cudaError_t cudaMallocManaged(T **p, size_t n, unsigned f = 1) {
  return cudaMallocManaged((void **)p, n, f);
}
inline cudaError_t cudaFree(void *p) {
  using namespace cu_emu;
  if (!p) return cudaSuccess;
  if (cudaError_t e = refuse_during_capture()) return set_error(e);
  auto it = g.dev_allocs.find((uintptr_t)p);
  if (it == g.dev_allocs.end()) return set_error(cudaErrorInvalidValue);
  g.dev_allocated -= (it->second + 255) & ~(size_t)255;
  g.dev_allocs.erase(it);
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMallocHost(void **p, size_t n) {
  using namespace cu_emu;
  if (!p) return set_error(cudaErrorInvalidValue);
  *p = nullptr;
  if (n == 0) return cudaSuccess;
  void *m = std::aligned_alloc(256, (n + 255) & ~(size_t)255);
  if (!m) return set_error(cudaErrorMemoryAllocation);
  g.host_allocs[(uintptr_t)m] = n;
  *p = m;
  return cudaSuccess;
}
template <class T> inline cudaError_t cudaMallocHost(T **p, size_t n) { return cudaMallocHost((void **)p, n); }
inline cudaError_t cudaHostAlloc(void **p, size_t n, unsigned) { return cudaMallocHost(p, n); }
inline cudaError_t cudaFreeHost(void *p) {
  using namespace cu_emu;
  if (!p) return cudaSuccess;
  auto it = g.host_allocs.find((uintptr_t)p);
  if (it == g.host_allocs.end()) return set_error(cudaErrorInvalidValue);
  g.host_allocs.erase(it);
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind) {
  using namespace cu_emu;
  if (cudaError_t e = refuse_during_capture()) return set_error(e);
  if (cudaError_t e = check_copy(dst, src, n, kind)) return set_error(e);
  if (n) std::memmove(dst, src, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind,
                                   cudaStream_t s = nullptr) {
  using namespace cu_emu;
  if (cudaError_t e = check_copy(dst, src, n, kind)) return set_error(e);
  // src is read when the copy runs (at graph launch for a captured copy), as in CUDA.
  return set_error(enqueue(s, [dst, src, n]() { if (n) std::memmove(dst, src, n); }));
}
inline cudaError_t cudaMemset(void *p, int v, size_t n) {
  using namespace cu_emu;
  if (cudaError_t e = refuse_during_capture()) return set_error(e);
  if (n && !is_dev(p, n)) return set_error(cudaErrorInvalidValue);
  if (n) std::memset(p, v, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t s = nullptr) {
  using namespace cu_emu;
  if (n && !is_dev(p, n)) return set_error(cudaErrorInvalidValue);
  return set_error(enqueue(s, [p, v, n]() { if (n) std::memset(p, v, n); }));
}
template <class T>
inline cudaError_t cudaMemcpyToSymbol(T &symbol, const void *src, size_t n, size_t off = 0,
                                      cudaMemcpyKind = cudaMemcpyHostToDevice) {
  if (off + n > sizeof(T)) return cu_emu::set_error(cudaErrorInvalidValue);
  std::memcpy((char *)&symbol + off, src, n);
  return cudaSuccess;
}
template <class T>
inline cudaError_t cudaMemcpyFromSymbol(void *dst, const T &symbol, size_t n, size_t off = 0,
                                        cudaMemcpyKind = cudaMemcpyDeviceToHost) {
  if (off + n > sizeof(T)) return cu_emu::set_error(cudaErrorInvalidValue);
  std::memcpy(dst, (const char *)&symbol + off, n);
  return cudaSuccess;
}

// ── streams and events
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
  *s = new CUstream_st;
  (*s)->flags = flags;
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreate(cudaStream_t *s) { return cudaStreamCreateWithFlags(s, cudaStreamDefault); }
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (!s) return cu_emu::set_error(cudaErrorInvalidResourceHandle);
  if (s->capturing) cu_emu::capture_stop(s);
  delete s;
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (s && s->capturing) return cu_emu::set_error(cu_emu::capture_violation(cudaErrorStreamCaptureUnsupported));
  if (!s && cu_emu::g.capturing_strict) return cu_emu::set_error(cu_emu::capture_violation(cudaErrorStreamCaptureImplicit));
  return cudaSuccess;
}
inline cudaError_t cudaStreamQuery(cudaStream_t s) { return cudaStreamSynchronize(s); }
inline cudaError_t cudaDeviceSynchronize() {
  if (cudaError_t e = cu_emu::refuse_during_capture()) return cu_emu::set_error(e);
  return cudaSuccess;
}
inline cudaError_t cudaEventCreate(cudaEvent_t *e) { *e = new CUevent_st; return cudaSuccess; }
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) { return cudaEventCreate(e); }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr) {
  if (!e) return cu_emu::set_error(cudaErrorInvalidResourceHandle);
  return cu_emu::set_error(cu_emu::enqueue(s, [e]() { e->t = std::chrono::steady_clock::now(); e->recorded = true; }));
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  return e ? cudaSuccess : cu_emu::set_error(cudaErrorInvalidResourceHandle);
}
inline cudaError_t cudaEventQuery(cudaEvent_t e) { return cudaEventSynchronize(e); }
inline cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned = 0) { return cudaSuccess; }
inline cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
  if (!a || !b) return cu_emu::set_error(cudaErrorInvalidResourceHandle);
  if (!a->recorded || !b->recorded) return cu_emu::set_error(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}

// ── graphs (stream capture)
inline cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
  if (!s) return cu_emu::set_error(cudaErrorStreamCaptureUnsupported);   // the legacy stream cannot capture
  if (s->capturing) return cu_emu::set_error(cudaErrorIllegalState);
  s->capturing = true;
  s->invalidated = false;
  s->mode = mode;
  s->ops.clear();
  cu_emu::capture_start(s);
  return cudaSuccess;
}
inline cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph) {
  if (!s || !s->capturing) return cu_emu::set_error(cudaErrorIllegalState);
  cu_emu::capture_stop(s);
  if (s->invalidated) {
    *graph = nullptr;
    s->ops.clear();
    return cu_emu::set_error(cudaErrorStreamCaptureInvalidated);
  }
  *graph = new CUgraph_st;
  (*graph)->ops = std::move(s->ops);
  s->ops.clear();
  return cudaSuccess;
}
inline cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus *st) {
  *st = !s || !s->capturing ? cudaStreamCaptureStatusNone
        : s->invalidated    ? cudaStreamCaptureStatusInvalidated
                            : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}
inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags = 0) {
  (void)flags;
  if (!exec || !graph) return cu_emu::set_error(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st;
  (*exec)->ops = graph->ops;
  return cudaSuccess;
}
inline cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
  if (!exec) return cu_emu::set_error(cudaErrorInvalidResourceHandle);
  return cu_emu::set_error(cu_emu::enqueue(s, [exec]() {
    for (const cu_emu::Op &op : exec->ops) op.run();
  }));
}
inline cudaError_t cudaGraphUpload(cudaGraphExec_t, cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) { delete exec; return cudaSuccess; }
inline cudaError_t cudaGraphDestroy(cudaGraph_t graph) { delete graph; return cudaSuccess; }

// ── kernels
template <class F>
inline cudaError_t cudaFuncSetAttribute(F *func, cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || (size_t)value > cu_emu::kOptinSmemLimit) return cu_emu::set_error(cudaErrorInvalidValue);
    cu_emu::g.func_max_dyn_smem[(const void *)func] = value;
  }
  return cudaSuccess;
}

// Launch `body` once per thread of every block.  Configuration errors are reported as
// CUDA does, through cudaGetLastError, and the kernel does not run.  `name` and `func`
// are optional (CU_EMU_LAUNCH passes them): the name appears in deadlock messages, the
// function finds the dynamic shared memory limit set with cudaFuncSetAttribute.
inline void cu_emu_launch(dim3 grid, dim3 block, size_t dynamic_smem, cudaStream_t stream,
                          std::function<void()> body, const char *name = nullptr, const void *func = nullptr) {
  using namespace cu_emu;
  unsigned long long nt = (unsigned long long)block.x * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x == 0 || block.y == 0 || block.z == 0 || nt > 1024 ||
      block.x > 1024 || block.y > 1024 || block.z > 64 || grid.x > 0x7fffffffu || grid.y > 65535 ||
      grid.z > 65535) {
    set_error(cudaErrorInvalidConfiguration);
    return;
  }
  size_t smem_limit = kStaticSmemLimit;
  if (func) {
    auto it = g.func_max_dyn_smem.find(func);
    if (it != g.func_max_dyn_smem.end()) smem_limit = std::max(smem_limit, (size_t)it->second);
  } else {
    smem_limit = kOptinSmemLimit;
  }
  if (dynamic_smem > smem_limit) {
    set_error(cudaErrorInvalidValue);
    return;
  }
  if (stream && stream->capturing) {   // recorded with its arguments as they are now
    set_error(enqueue(stream, [grid, block, dynamic_smem, body = std::move(body), name]() {
      run_launch(grid, block, dynamic_smem, body, name);
    }));
  } else if (!stream && g.capturing_strict > 0) {
    set_error(capture_violation(cudaErrorStreamCaptureImplicit));
  } else {
    run_launch(grid, block, dynamic_smem, body, name);
  }
}

// ---------------------------------------------------------------------------
// bf16 and tensor-core fragments (the subset of <cuda_bf16.h> and <mma.h> the
// kernels use).  A fragment holds the whole 16x16 tile in every lane, and the
// warp-collective load / mma / store are done by each lane on its own copy:
// the same results, no exchange needed.  mma_sync accumulates the 16 products
// of each element in order, in f32 (tensor cores add in an unspecified order).
struct __nv_bfloat16 { unsigned short x; };
inline __nv_bfloat16 __float2bfloat16_rn(float f) {   // round to nearest even; NaN stays NaN
  unsigned u = __float_as_uint(f);
  __nv_bfloat16 b;
  if ((u & 0x7fffffffu) > 0x7f800000u) { b.x = (unsigned short)((u >> 16) | 0x40u); return b; }
  u += 0x7fffu + ((u >> 16) & 1u);
  b.x = (unsigned short)(u >> 16);
  return b;
}
inline float __bfloat162float(__nv_bfloat16 b) { return __uint_as_float((unsigned)b.x << 16); }

namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  float v[(std::is_same<Use, matrix_a>::value ? M * K : std::is_same<Use, matrix_b>::value ? K * N : M * N)];
  static constexpr int rows = std::is_same<Use, matrix_a>::value ? M : std::is_same<Use, matrix_b>::value ? K : M;
  static constexpr int cols = std::is_same<Use, matrix_a>::value ? K : N;
};
inline float cu_emu_wmma_elt(float x) { return x; }
inline float cu_emu_wmma_elt(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename Use, int M, int N, int K, typename T, typename Layout, typename P>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout> &f, const P *p, unsigned ldm) {
  typedef fragment<Use, M, N, K, T, Layout> F;
  for (int r = 0; r < F::rows; r++)
    for (int c = 0; c < F::cols; c++)
      f.v[r * F::cols + c] = cu_emu_wmma_elt(std::is_same<Layout, col_major>::value ? p[(size_t)c * ldm + r] : p[(size_t)r * ldm + c]);
}
template <int M, int N, int K, typename T>
inline void fill_fragment(fragment<accumulator, M, N, K, T> &f, float x) {
  for (int i = 0; i < M * N; i++) f.v[i] = x;
}
template <int M, int N, int K, typename TA, typename LA, typename TB, typename LB, typename T>
inline void mma_sync(fragment<accumulator, M, N, K, T> &d, const fragment<matrix_a, M, N, K, TA, LA> &a,
                     const fragment<matrix_b, M, N, K, TB, LB> &b, const fragment<accumulator, M, N, K, T> &c) {
  float out[M * N];
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      float acc = c.v[i * N + j];
      for (int k = 0; k < K; k++) acc = std::fma(a.v[i * K + k], b.v[k * N + j], acc);
      out[i * N + j] = acc;
    }
  for (int i = 0; i < M * N; i++) d.v[i] = out[i];
}
template <int M, int N, int K, typename T>
inline void store_matrix_sync(float *p, const fragment<accumulator, M, N, K, T> &f, unsigned ldm, layout_t layout) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      if (layout == mem_col_major) p[(size_t)j * ldm + i] = f.v[i * N + j];
      else p[(size_t)i * ldm + j] = f.v[i * N + j];
    }
}
}  // namespace wmma
}  // namespace nvcuda

#define CU_EMU_LAUNCH(kernel, grid, block, smem, stream, ...)                                              \
  cu_emu_launch((grid), (block), (smem), (stream), [=]() { kernel(__VA_ARGS__); }, #kernel,               \
                reinterpret_cast<const void *>(&kernel))

#endif  // ARCHC_CUDA_EMU_H
