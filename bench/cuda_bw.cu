/*
 * bench/cuda_bw.cu — the GPU's read bandwidth, the ceiling of batch-1 decode.
 *
 *   nvcc -O3 -arch=sm_90 bench/cuda_bw.cu -o cuda_bw && ./cuda_bw [GiB]
 *
 * Streams a buffer (default 4 GiB, far beyond L2) with 16-byte loads, every SM
 * busy, and prints the best of 10 passes as
 *   cuda_bw device="NAME" read_GBps=X
 * tools/cuda_check.sh divides decode's bytes per second by it.
 */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                          \
    do {                                                                                     \
        cudaError_t e_ = (call);                                                             \
        if (e_ != cudaSuccess) {                                                             \
            fprintf(stderr, "cuda_bw: %s: %s\n", #call, cudaGetErrorString(e_));             \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

/* Sum every 32-bit word of buf (n 16-byte vectors); the sum keeps the loads alive. */
__global__ void read_all(const uint4 *buf, size_t n, unsigned *sink) {
    unsigned acc = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint4 v = __ldg(buf + i);
        acc += v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x12345678u) atomicAdd(sink, acc);
}

int main(int argc, char **argv) {
    double gib = argc > 1 ? atof(argv[1]) : 4.0;
    size_t bytes = (size_t)(gib * (1 << 30)) / 16 * 16;
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    uint4 *buf;
    unsigned *sink;
    CHECK(cudaMalloc(&buf, bytes));
    CHECK(cudaMalloc(&sink, sizeof(unsigned)));
    CHECK(cudaMemset(buf, 1, bytes));
    cudaEvent_t a, b;
    CHECK(cudaEventCreate(&a));
    CHECK(cudaEventCreate(&b));
    double best = 0;
    for (int rep = 0; rep < 10; rep++) {
        CHECK(cudaEventRecord(a));
        read_all<<<prop.multiProcessorCount * 8, 512>>>(buf, bytes / 16, sink);
        CHECK(cudaEventRecord(b));
        CHECK(cudaEventSynchronize(b));
        float ms = 0;
        CHECK(cudaEventElapsedTime(&ms, a, b));
        double gbps = bytes / (ms * 1e-3) / 1e9;
        if (gbps > best) best = gbps;
    }
    printf("cuda_bw device=\"%s\" read_GBps=%.1f\n", prop.name, best);
    return 0;
}
