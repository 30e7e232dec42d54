// Self-test of runtime/cuda/cuda_emu.h, the CPU emulation of CUDA that lets CI run
// emitted .cu files without a GPU.
//
//   g++ -std=c++17 -x c++ -DARCHC_CUDA_EMU -include runtime/cuda/cuda_emu.h tests/cuda/emu_selftest.cu
//   nvcc -std=c++17 -arch=sm_90 emu_selftest.cu    (the same checks on a GPU, less the
//                                                   emulator-only ones)
//
// Every check prints "ok NAME" or "FAIL NAME: ..."; the exit status is 1 if any failed.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <chrono>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#ifdef ARCHC_CUDA_EMU
#include "../../runtime/cuda/cuda_emu.h"
#define LAUNCH CU_EMU_LAUNCH
#else
#include <cuda_runtime.h>
#define LAUNCH(kernel, grid, block, smem, stream, ...) kernel<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__)
#define CU_EMU_EXTERN_SHARED(T, name) extern __shared__ T name[]
#endif

static int failures = 0;
static void check(bool ok, const char *name, const char *fmt = "", long a = 0, long b = 0) {
  if (ok) {
    std::printf("ok %s\n", name);
  } else {
    std::printf("FAIL %s: ", name);
    std::printf(fmt, a, b);
    std::printf("\n");
    failures++;
  }
  std::fflush(stdout);
}
#define CK(call)                                                                                  \
  do {                                                                                            \
    cudaError_t e_ = (call);                                                                      \
    if (e_ != cudaSuccess) {                                                                      \
      std::printf("FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));      \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)

template <class T>
static T *dev_alloc(size_t n) {
  T *p = nullptr;
  CK(cudaMalloc((void **)&p, n * sizeof(T)));
  return p;
}

// ── block reduction with shared memory and __syncthreads
template <int N>
__global__ void block_sum(const int *in, int *out) {
  __shared__ int buf[N];
  unsigned t = threadIdx.x;
  buf[t] = in[blockIdx.x * N + t];
  __syncthreads();
  for (unsigned s = N / 2; s > 0; s >>= 1) {
    if (t < s) buf[t] += buf[t + s];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = buf[0];
}

template <int N>
static void test_block_sum(int blocks, const char *name) {
  std::vector<int> h(blocks * N);
  for (size_t i = 0; i < h.size(); i++) h[i] = (int)((i * 2654435761u) % 1000) - 500;
  int *din = dev_alloc<int>(h.size()), *dout = dev_alloc<int>(blocks);
  CK(cudaMemcpy(din, h.data(), h.size() * sizeof(int), cudaMemcpyHostToDevice));
  LAUNCH(block_sum<N>, blocks, N, 0, 0, din, dout);
  CK(cudaGetLastError());
  std::vector<int> got(blocks);
  CK(cudaMemcpy(got.data(), dout, blocks * sizeof(int), cudaMemcpyDeviceToHost));
  int bad = -1;
  for (int b = 0; b < blocks; b++) {
    int want = 0;
    for (int i = 0; i < N; i++) want += h[b * N + i];
    if (got[b] != want) bad = b;
  }
  check(bad < 0, name, "block %ld wrong (%ld)", bad, bad >= 0 ? got[bad] : 0);
  CK(cudaFree(din));
  CK(cudaFree(dout));
}

// ── warp shuffles: every flavour, several widths, float/int/unsigned
// out layout per thread: 12 values
__global__ void warp_ops(const float *inf, const int *ini, float *outf, int *outi, unsigned *outu) {
  unsigned i = blockIdx.x * blockDim.x + threadIdx.x, lane = threadIdx.x % 32;
  const unsigned full = 0xffffffffu;
  float v = inf[i];
  // butterfly sum: every lane gets the warp's total
  float s = v;
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(full, s, o);
  outf[i * 4 + 0] = s;
  // down sum: lane 0 gets the total
  float d = v;
  for (int o = 16; o > 0; o >>= 1) d += __shfl_down_sync(full, d, o);
  outf[i * 4 + 1] = d;
  // up: inclusive prefix sum (integers)
  int x = ini[i];
  for (int o = 1; o < 32; o <<= 1) {
    int y = __shfl_up_sync(full, x, o);
    if ((int)lane >= o) x += y;
  }
  outi[i * 8 + 0] = x;
  // idx: broadcast and rotation
  outi[i * 8 + 1] = __shfl_sync(full, ini[i], 5);
  outi[i * 8 + 2] = __shfl_sync(full, ini[i], (lane + 1) & 31);
  outi[i * 8 + 3] = __shfl_sync(full, ini[i], 3, 8);              // width 8
  outi[i * 8 + 4] = __shfl_sync(full, ini[i], 37, 16);            // srcLane out of range
  outi[i * 8 + 5] = __shfl_down_sync(full, ini[i], 3, 16);        // keeps own at the segment end
  outi[i * 8 + 6] = __shfl_up_sync(full, ini[i], 2, 8);           // keeps own at the segment start
  outi[i * 8 + 7] = __shfl_xor_sync(full, ini[i], 9, 8);          // later segment: own value
  // width-8 butterfly reduction of floats
  float s8 = v;
  for (int o = 4; o > 0; o >>= 1) s8 += __shfl_xor_sync(full, s8, o, 8);
  outf[i * 4 + 2] = s8;
  // unsigned max via xor
  unsigned u = (unsigned)ini[i] * 2654435761u;
  for (int o = 16; o > 0; o >>= 1) u = max(u, __shfl_xor_sync(full, u, o));
  outu[i * 4 + 0] = u;
  // ballot / any / all
  outu[i * 4 + 1] = __ballot_sync(full, ini[i] % 3 == 0);
  outu[i * 4 + 2] = __any_sync(full, lane == 7) | (__any_sync(full, lane == 99) << 1) |
                    (__all_sync(full, lane < 32) << 2) | (__all_sync(full, lane < 31) << 3);
  // half-warp shuffle with a partial mask (lanes 16..31 do not take part)
  int h = -1;
  if (lane < 16) h = __shfl_xor_sync(0x0000ffffu, ini[i], 1);
  outu[i * 4 + 3] = (unsigned)h;
  outf[i * 4 + 3] = 0;
}

static void test_warp() {
  const int blocks = 3, threads = 64, n = blocks * threads;
  std::vector<float> hf(n);
  std::vector<int> hi(n);
  for (int i = 0; i < n; i++) {
    hf[i] = (float)((i * 37) % 101 - 50) * 0.25f;   // exact in any order
    hi[i] = (i * 7919) % 1000;
  }
  float *inf = dev_alloc<float>(n), *outf = dev_alloc<float>(n * 4);
  int *ini = dev_alloc<int>(n), *outi = dev_alloc<int>(n * 8);
  unsigned *outu = dev_alloc<unsigned>(n * 4);
  CK(cudaMemcpy(inf, hf.data(), n * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(ini, hi.data(), n * 4, cudaMemcpyHostToDevice));
  LAUNCH(warp_ops, blocks, threads, 0, 0, inf, ini, outf, outi, outu);
  CK(cudaGetLastError());
  std::vector<float> gf(n * 4);
  std::vector<int> gi(n * 8);
  std::vector<unsigned> gu(n * 4);
  CK(cudaMemcpy(gf.data(), outf, n * 16, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(gi.data(), outi, n * 32, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(gu.data(), outu, n * 16, cudaMemcpyDeviceToHost));
  int bad[12] = {0};
  for (int w = 0; w < n / 32; w++) {
    const int b = w * 32;
    float tot = 0;
    unsigned umax = 0, ballot = 0;
    for (int l = 0; l < 32; l++) {
      tot += hf[b + l];
      umax = std::max(umax, (unsigned)hi[b + l] * 2654435761u);
      if (hi[b + l] % 3 == 0) ballot |= 1u << l;
    }
    int prefix = 0;
    for (int l = 0; l < 32; l++) {
      int i = b + l;
      prefix += hi[i];
      float s8 = 0;
      for (int k = 0; k < 8; k++) s8 += hf[b + (l & ~7) + k];
      bad[0] += gf[i * 4 + 0] != tot;
      bad[1] += l == 0 && gf[i * 4 + 1] != tot;
      bad[2] += gi[i * 8 + 0] != prefix;
      bad[3] += gi[i * 8 + 1] != hi[b + 5] || gi[i * 8 + 2] != hi[b + ((l + 1) & 31)];
      bad[4] += gi[i * 8 + 3] != hi[b + (l & ~7) + 3] || gi[i * 8 + 4] != hi[b + (l & ~15) + (37 & 15)];
      bad[5] += gi[i * 8 + 5] != ((l & 15) + 3 < 16 ? hi[i + 3] : hi[i]);
      bad[6] += gi[i * 8 + 6] != ((l & 7) >= 2 ? hi[i - 2] : hi[i]);
      int x = l ^ 9;   // lanes whose partner lies in a later 8-lane segment keep their own value
      bad[7] += gi[i * 8 + 7] != (x <= ((l & ~7) | 7) ? hi[b + x] : hi[i]);
      bad[8] += gf[i * 4 + 2] != s8;
      bad[9] += gu[i * 4 + 0] != umax || gu[i * 4 + 1] != ballot;
      bad[10] += gu[i * 4 + 2] != (1u | 4u);
      bad[11] += gu[i * 4 + 3] != (l < 16 ? (unsigned)hi[b + (l ^ 1)] : 0xffffffffu);
    }
  }
  check(bad[0] == 0, "warp.shfl_xor_sum", "%ld lanes wrong", bad[0]);
  check(bad[1] == 0, "warp.shfl_down_sum", "%ld lanes wrong", bad[1]);
  check(bad[2] == 0, "warp.shfl_up_scan", "%ld lanes wrong", bad[2]);
  check(bad[3] == 0, "warp.shfl_idx", "%ld lanes wrong", bad[3]);
  check(bad[4] == 0, "warp.shfl_idx_width", "%ld lanes wrong", bad[4]);
  check(bad[5] == 0, "warp.shfl_down_width", "%ld lanes wrong", bad[5]);
  check(bad[6] == 0, "warp.shfl_up_width", "%ld lanes wrong", bad[6]);
  check(bad[7] == 0, "warp.shfl_xor_width", "%ld lanes wrong", bad[7]);
  check(bad[8] == 0, "warp.shfl_xor_width8_sum", "%ld lanes wrong", bad[8]);
  check(bad[9] == 0, "warp.unsigned_max_and_ballot", "%ld lanes wrong", bad[9]);
  check(bad[10] == 0, "warp.any_all", "%ld lanes wrong", bad[10]);
  check(bad[11] == 0, "warp.partial_mask", "%ld lanes wrong", bad[11]);
  CK(cudaFree(inf)); CK(cudaFree(outf)); CK(cudaFree(ini)); CK(cudaFree(outi)); CK(cudaFree(outu));
}

// ── atomics from many threads
struct Counters {
  int add_i;
  unsigned add_u;
  float add_f;
  unsigned long long add_ull;
  int max_i, min_i;
  unsigned max_u, min_u;
  int cas_i;
  unsigned long long cas_ull;
  unsigned exch;
  int hist[8];
};

__global__ void atomics(Counters *c) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(&c->add_i, 1);
  atomicAdd(&c->add_u, 2u);
  atomicAdd(&c->add_f, 0.5f);
  atomicAdd(&c->add_ull, 1ull << 33);
  atomicMax(&c->max_i, (i * 7919) % 5003 - 2500);
  atomicMin(&c->min_i, (i * 7919) % 5003 - 2500);
  atomicMax(&c->max_u, (unsigned)i * 3u);
  atomicMin(&c->min_u, (unsigned)i + 17u);
  int old = c->cas_i, assumed;   // the classic CAS loop
  do {
    assumed = old;
    old = atomicCAS(&c->cas_i, assumed, assumed + 3);
  } while (old != assumed);
  unsigned long long o2 = c->cas_ull, a2;
  do {
    a2 = o2;
    o2 = atomicCAS(&c->cas_ull, a2, a2 + 5);
  } while (o2 != a2);
  atomicExch(&c->exch, 12345u);
  atomicAdd(&c->hist[i % 8], 1);
  __syncthreads();
  atomicAdd(&c->add_i, 1);
}

static void test_atomics() {
  const int blocks = 8, threads = 256, n = blocks * threads;
  Counters h;
  std::memset(&h, 0, sizeof h);
  h.max_i = -1000000;
  h.min_i = 1000000;
  h.min_u = 0xffffffffu;
  Counters *d = dev_alloc<Counters>(1);
  CK(cudaMemcpy(d, &h, sizeof h, cudaMemcpyHostToDevice));
  LAUNCH(atomics, blocks, threads, 0, 0, d);
  CK(cudaGetLastError());
  CK(cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost));
  int want_max = -1000000, want_min = 1000000;
  for (int i = 0; i < n; i++) {
    want_max = std::max(want_max, (i * 7919) % 5003 - 2500);
    want_min = std::min(want_min, (i * 7919) % 5003 - 2500);
  }
  bool hist_ok = true;
  for (int k = 0; k < 8; k++) hist_ok = hist_ok && h.hist[k] == n / 8;
  check(h.add_i == 2 * n && h.add_u == 2u * n && h.add_f == 0.5f * n && h.add_ull == (unsigned long long)n << 33,
        "atomics.add", "add_i %ld add_u %ld", h.add_i, h.add_u);
  check(h.max_i == want_max && h.min_i == want_min && h.max_u == 3u * (n - 1) && h.min_u == 17u, "atomics.min_max",
        "max %ld min %ld", h.max_i, h.min_i);
  check(h.cas_i == 3 * n && h.cas_ull == 5ull * n, "atomics.cas", "cas_i %ld cas_ull %ld", h.cas_i, (long)h.cas_ull);
  check(h.exch == 12345u && hist_ok, "atomics.exch_hist", "exch %ld", h.exch);
  CK(cudaFree(d));
}

// ── multi-dimensional grid and block
__global__ void indices(unsigned *out) {
  unsigned bx = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  unsigned tx = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  unsigned i = bx * (blockDim.x * blockDim.y * blockDim.z) + tx;
  out[i * 2 + 0] = (blockIdx.z << 24) | (blockIdx.y << 16) | (threadIdx.z << 8) | (threadIdx.y << 4) | threadIdx.x;
  out[i * 2 + 1] += 1 + blockIdx.x;
}

static void test_indices() {
  dim3 grid(3, 2, 2), block(4, 3, 2);
  const unsigned n = 3 * 2 * 2 * 4 * 3 * 2;
  unsigned *d = dev_alloc<unsigned>(n * 2);
  CK(cudaMemset(d, 0, n * 2 * sizeof(unsigned)));
  LAUNCH(indices, grid, block, 0, 0, d);
  CK(cudaGetLastError());
  std::vector<unsigned> h(n * 2);
  CK(cudaMemcpy(h.data(), d, n * 2 * sizeof(unsigned), cudaMemcpyDeviceToHost));
  long bad = 0;
  unsigned i = 0;
  for (unsigned bz = 0; bz < 2; bz++)
    for (unsigned by = 0; by < 2; by++)
      for (unsigned bx = 0; bx < 3; bx++)
        for (unsigned tz = 0; tz < 2; tz++)
          for (unsigned ty = 0; ty < 3; ty++)
            for (unsigned tx = 0; tx < 4; tx++, i++)
              bad += h[i * 2] != ((bz << 24) | (by << 16) | (tz << 8) | (ty << 4) | tx) || h[i * 2 + 1] != 1 + bx;
  check(bad == 0, "launch.multi_dim", "%ld threads wrong", bad);
  CK(cudaFree(d));
}

// ── invalid launches: the kernel does not run, cudaGetLastError reports it once
__global__ void set_flag(int *flag) { *flag = 1; }

static void test_invalid() {
  int *flag = dev_alloc<int>(1);
  CK(cudaMemset(flag, 0, sizeof(int)));
  LAUNCH(set_flag, 1, 1025, 0, 0, flag);
  cudaError_t e1 = cudaPeekAtLastError();
  cudaError_t e2 = cudaGetLastError();
  cudaError_t e3 = cudaGetLastError();
  int h = -1;
  CK(cudaMemcpy(&h, flag, sizeof h, cudaMemcpyDeviceToHost));
  check(e1 == cudaErrorInvalidConfiguration && e2 == cudaErrorInvalidConfiguration && e3 == cudaSuccess && h == 0,
        "launch.invalid_1025_threads", "error %ld, flag %ld", (long)e2, h);
  LAUNCH(set_flag, dim3(1, 65536, 1), 1, 0, 0, flag);
  cudaError_t e4 = cudaGetLastError();
  LAUNCH(set_flag, 1, dim3(32, 0, 1), 0, 0, flag);
  cudaError_t e5 = cudaGetLastError();
  CK(cudaMemcpy(&h, flag, sizeof h, cudaMemcpyDeviceToHost));
  check(e4 == cudaErrorInvalidConfiguration && e5 == cudaErrorInvalidConfiguration && h == 0,
        "launch.invalid_grid_and_zero_dim", "errors %ld %ld", (long)e4, (long)e5);
  LAUNCH(set_flag, 1, 1, 0, 0, flag);
  CK(cudaGetLastError());
  CK(cudaMemcpy(&h, flag, sizeof h, cudaMemcpyDeviceToHost));
  check(h == 1, "launch.valid_after_invalid", "flag %ld", h);
  CK(cudaFree(flag));
}

// ── early exit, __syncthreads_count, dynamic shared memory
__global__ void early_exit(int n, int *out) {
  __shared__ int cnt[1];
  if (threadIdx.x == 0) cnt[0] = 0;
  __syncthreads();
  if ((int)threadIdx.x >= n) return;   // these threads leave the barrier counts
  atomicAdd(&cnt[0], 1);
  __syncthreads();
  int c = __syncthreads_count(threadIdx.x % 2 == 0);
  if (threadIdx.x == 0) {
    out[0] = cnt[0];
    out[1] = c;
  }
}

__global__ void dyn_smem(const float *in, float *out, int n) {
  CU_EMU_EXTERN_SHARED(float, smem);
  int t = threadIdx.x;
  for (int i = t; i < n; i += blockDim.x) smem[i] = in[i];
  __syncthreads();
  for (int i = t; i < n; i += blockDim.x) out[i] = smem[n - 1 - i];
}

static void test_misc() {
  int *out = dev_alloc<int>(2);
  LAUNCH(early_exit, 1, 256, 0, 0, 100, out);
  CK(cudaGetLastError());
  int h[2];
  CK(cudaMemcpy(h, out, sizeof h, cudaMemcpyDeviceToHost));
  check(h[0] == 100 && h[1] == 50, "sync.early_exit_and_count", "count %ld, syncthreads_count %ld", h[0], h[1]);
  CK(cudaFree(out));

  const int n = 3000;
  std::vector<float> hin(n), hout(n);
  for (int i = 0; i < n; i++) hin[i] = (float)i;
  float *din = dev_alloc<float>(n), *dout = dev_alloc<float>(n);
  CK(cudaMemcpy(din, hin.data(), n * 4, cudaMemcpyHostToDevice));
  LAUNCH(dyn_smem, 2, 128, n * sizeof(float), 0, din, dout, n);
  CK(cudaGetLastError());
  CK(cudaMemcpy(hout.data(), dout, n * 4, cudaMemcpyDeviceToHost));
  long bad = 0;
  for (int i = 0; i < n; i++) bad += hout[i] != (float)(n - 1 - i);
  check(bad == 0, "smem.dynamic", "%ld wrong", bad);
  LAUNCH(dyn_smem, 1, 128, 64 * 1024, 0, din, dout, n);   // > 48 KiB without cudaFuncSetAttribute
  cudaError_t e = cudaGetLastError();
  CK(cudaFuncSetAttribute(dyn_smem, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024));
  LAUNCH(dyn_smem, 1, 128, 64 * 1024, 0, din, dout, n);
  cudaError_t e2 = cudaGetLastError();
  check(e != cudaSuccess && e2 == cudaSuccess, "smem.dynamic_optin", "errors %ld %ld", (long)e, (long)e2);
  CK(cudaFree(din));
  CK(cudaFree(dout));
}

// ── CUDA graphs: capture, replay with a position read through a device pointer
__global__ void step(const int *pos, int *out, int tag) {
  int p = *pos;
  int v = 0;
  __shared__ int s[32];
  s[threadIdx.x] = p + (int)threadIdx.x;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int i = 0; i < 32; i++) v += s[i];
    out[p] = v * 10 + tag;
  }
}

static void test_graph() {
  cudaStream_t st;
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  int *hpos = nullptr;
  CK(cudaMallocHost((void **)&hpos, sizeof(int)));
  int *dpos = dev_alloc<int>(1), *dout = dev_alloc<int>(8);
  CK(cudaMemset(dout, 0, 8 * sizeof(int)));
  CK(cudaDeviceSynchronize());
  *hpos = 6;
  int tag = 7;
  CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
  CK(cudaMemcpyAsync(dpos, hpos, sizeof(int), cudaMemcpyHostToDevice, st));
  LAUNCH(step, 1, 32, 0, st, dpos, dout, tag);
  CK(cudaGetLastError());
  cudaGraph_t graph;
  CK(cudaStreamEndCapture(st, &graph));
  tag = 99;   // captured by value: the replays still see 7
  cudaGraphExec_t exec;
  CK(cudaGraphInstantiate(&exec, graph, 0));
  int before[8];
  CK(cudaMemcpy(before, dout, sizeof before, cudaMemcpyDeviceToHost));
  bool none_ran = true;
  for (int i = 0; i < 8; i++) none_ran = none_ran && before[i] == 0;
  for (int p = 0; p < 5; p++) {
    *hpos = p;   // the captured memcpy reads the pinned buffer at each launch
    CK(cudaGraphLaunch(exec, st));
    CK(cudaStreamSynchronize(st));
  }
  int got[8];
  CK(cudaMemcpy(got, dout, sizeof got, cudaMemcpyDeviceToHost));
  long bad = 0;
  for (int p = 0; p < 8; p++) {
    int want = p < 5 ? (32 * p + 496) * 10 + 7 : 0;
    bad += got[p] != want;
  }
  check(none_ran, "graph.capture_does_not_run", "");
  check(bad == 0, "graph.replay", "%ld positions wrong (out[1] = %ld)", bad, got[1]);
  CK(cudaGraphExecDestroy(exec));
  CK(cudaGraphDestroy(graph));

  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  CK(cudaEventRecord(a, st));
  LAUNCH(step, 1, 32, 0, st, dpos, dout, 1);
  CK(cudaEventRecord(b, st));
  CK(cudaEventSynchronize(b));
  float ms = -1;
  CK(cudaEventElapsedTime(&ms, a, b));
  check(ms >= 0, "events.elapsed", "");
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));

#ifdef ARCHC_CUDA_EMU
  // a synchronous copy during a global-mode capture fails and invalidates the capture
  CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
  int x = 0;
  cudaError_t e1 = cudaMemcpy(dpos, &x, sizeof x, cudaMemcpyHostToDevice);
  cudaGraph_t g2 = nullptr;
  cudaError_t e2 = cudaStreamEndCapture(st, &g2);
  (void)cudaGetLastError();
  check(e1 == cudaErrorStreamCaptureUnsupported && e2 == cudaErrorStreamCaptureInvalidated && g2 == nullptr,
        "graph.sync_memcpy_refused", "errors %ld %ld", (long)e1, (long)e2);
#endif
  CK(cudaFreeHost(hpos));
  CK(cudaFree(dpos));
  CK(cudaFree(dout));
  CK(cudaStreamDestroy(st));
}

// ── 1024 threads per block
static void test_1024() { test_block_sum<1024>(3, "launch.1024_threads"); }

// ── timing of a typical small launch (emulator: keep per-launch overhead low)
__global__ void two_syncs(float *x) {
  __shared__ float s[128];
  unsigned t = threadIdx.x;
  s[t] = x[blockIdx.x * 128 + t];
  __syncthreads();
  float v = s[(t + 1) % 128];
  __syncthreads();
  x[blockIdx.x * 128 + t] = v + 1.0f;
}

static void test_timing() {
  float *x = dev_alloc<float>(64 * 128);
  CK(cudaMemset(x, 0, 64 * 128 * sizeof(float)));
  LAUNCH(two_syncs, 64, 128, 0, 0, x);   // warm up (stacks)
  const int reps = 20;
  auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; r++) LAUNCH(two_syncs, 64, 128, 0, 0, x);
  CK(cudaDeviceSynchronize());
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
  std::vector<float> h(64 * 128);
  CK(cudaMemcpy(h.data(), x, h.size() * 4, cudaMemcpyDeviceToHost));
  check(h[0] == (float)(reps + 1) && h[64 * 128 - 1] == (float)(reps + 1), "launch.two_syncs_result", "");
  std::printf("   64 blocks x 128 threads, two __syncthreads: %.3f ms per launch\n", ms);
  check(ms < 50, "launch.two_syncs_time", "too slow");
  CK(cudaFree(x));
}

#ifdef ARCHC_CUDA_EMU
// ── emulator only: no device, divergence and deadlock caught in a child process
__global__ void divergent(int *p) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  p[threadIdx.x] = 1;
}
__global__ void deadlock(int *p) {
  if (threadIdx.x < 16) __syncwarp();   // waits for lanes 16..31, which wait below
  else __syncthreads();
  p[threadIdx.x] = 1;
}

// Run fn in a child; return its exit status and what it wrote on stderr.
static int in_child(void (*fn)(int *), int *arg, std::string &err) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    dup2(fds[1], 2);
    close(fds[0]);
    fn(arg);
    _exit(0);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t k;
  err.clear();
  while ((k = read(fds[0], buf, sizeof buf)) > 0) err.append(buf, (size_t)k);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

static void run_divergent(int *p) { LAUNCH(divergent, dim3(2, 1, 1), dim3(32, 1, 1), 0, 0, p); }
static void run_deadlock(int *p) { LAUNCH(deadlock, 1, 64, 0, 0, p); }

static void test_emulator_only() {
  int n = -1;
  setenv("ARCHC_CUDA_EMU_NO_DEVICE", "1", 1);
  cudaError_t e = cudaGetDeviceCount(&n);
  (void)cudaGetLastError();
  check(e == cudaErrorNoDevice && n == 0, "emu.no_device_env", "error %ld count %ld", (long)e, n);
  unsetenv("ARCHC_CUDA_EMU_NO_DEVICE");
  cudaDeviceProp prop;
  CK(cudaGetDeviceCount(&n));
  CK(cudaGetDeviceProperties(&prop, 0));
  int smem = 0;
  CK(cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
  check(n == 1 && std::strcmp(prop.name, "archc CPU emulator") == 0 && prop.sharedMemPerBlock == 49152 &&
            prop.major == 9 && prop.warpSize == 32 && smem > 49152,
        "emu.device_properties", "count %ld", n);

  int host_buf[4];
  e = cudaMemcpy(host_buf, host_buf + 1, 4, cudaMemcpyHostToDevice);   // destination is no device memory
  (void)cudaGetLastError();
  check(e == cudaErrorInvalidValue, "emu.memcpy_checks_device_side", "error %ld", (long)e);

  int *p = dev_alloc<int>(64);
  std::string err;
  int st = in_child(run_divergent, p, err);
  bool ok = !(WIFEXITED(st) && WEXITSTATUS(st) == 0) && err.find("divergent __syncthreads") != std::string::npos &&
            err.find("kernel divergent") != std::string::npos &&
            err.find("grid (2,1,1) block (32,1,1)") != std::string::npos;
  check(ok, "emu.divergent_syncthreads_caught", "status %ld", st);
  if (!ok) std::printf("   child stderr: %s\n", err.c_str());
  st = in_child(run_deadlock, p, err);
  ok = !(WIFEXITED(st) && WEXITSTATUS(st) == 0) && err.find("deadlock in kernel deadlock") != std::string::npos &&
       err.find("block (64,1,1)") != std::string::npos;
  check(ok, "emu.deadlock_caught", "status %ld", st);
  if (!ok) std::printf("   child stderr: %s\n", err.c_str());
  else std::printf("   %s", err.c_str());
  CK(cudaFree(p));
}
#endif

int main() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("no CUDA device\n");
    return 77;
  }
  test_block_sum<256>(4, "block.reduce_256");
  test_block_sum<64>(5, "block.reduce_64");
  test_warp();
  test_atomics();
  test_indices();
  test_1024();
  test_invalid();
  test_misc();
  test_graph();
  test_timing();
#ifdef ARCHC_CUDA_EMU
  test_emulator_only();
#endif
  if (failures) {
    std::printf("%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("all checks passed\n");
  return 0;
}
