// Shared by every kernels/*.cu file. The Rust side (src/backend/cuda/) pastes this header
// in place of `#include "common.cuh"` before NVRTC compiles a file, so no include path or
// CUDA header is needed at run time. Compiled without fast-math: expf/logf/sqrt are the
// accurate library functions, divisions and square roots IEEE-rounded.

typedef unsigned long long u64;

// Threads per block for every kernel that reduces inside a block (one block per row,
// channel or whole buffer). Reductions use a fixed-shape tree over exactly this many
// slots, so a result never depends on timing: no float atomics anywhere.
#define BLOCK 256

// NVRTC has no math_constants.h by default; the two infinities the kernels need.
__device__ __forceinline__ float neg_infinity(float) { return __int_as_float(0xff800000); }
__device__ __forceinline__ double neg_infinity(double) { return __longlong_as_double(0xfff0000000000000ULL); }

// Codes of `Map` (src/backend/mod.rs); src/backend/cuda/ops.rs holds the same numbers
// and a test reads them back from this header.
#define MAP_IDENTITY 0
#define MAP_SIGMOID 1
#define MAP_TANH 2
#define MAP_RELU 3
#define MAP_LEAKY_RELU 4
#define MAP_EXP 5
#define MAP_LOG 6
#define MAP_SQUARE 7
#define MAP_ADD_SCALAR 8
#define MAP_MUL_SCALAR 9

// Codes of `Zip`.
#define ZIP_ADD 0
#define ZIP_SUB 1
#define ZIP_MUL 2

// Codes of the element-wise `LossKernel`s (softmax cross-entropy has its own kernel).
#define LOSS_SQUARED_ERROR 0
#define LOSS_BCE 1
#define LOSS_SIGMOID_BCE 2

// Probabilities are clamped this far from 0 and 1 (the CPU's PROB_EPS).
#define PROB_EPS 1e-12
// BCE on probabilities floors each log here, as PyTorch's BCELoss (the CPU's LOG_FLOOR).
#define LOG_FLOOR -100.0

// Overloads so one template body serves f32 and f64 with the matching precision.
__device__ __forceinline__ float exp_(float x) { return expf(x); }
__device__ __forceinline__ double exp_(double x) { return exp(x); }
__device__ __forceinline__ float log_(float x) { return logf(x); }
__device__ __forceinline__ double log_(double x) { return log(x); }
__device__ __forceinline__ float sqrt_(float x) { return sqrtf(x); }
__device__ __forceinline__ double sqrt_(double x) { return sqrt(x); }
__device__ __forceinline__ float abs_(float x) { return fabsf(x); }
__device__ __forceinline__ double abs_(double x) { return fabs(x); }
// Rust's max: a NaN argument loses (fmax's rule).
__device__ __forceinline__ float max_(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double max_(double a, double b) { return fmax(a, b); }

// Index of this thread in the whole grid, and the grid's size, for grid-stride loops.
__device__ __forceinline__ u64 global_index() { return (u64)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ u64 grid_size() { return (u64)gridDim.x * blockDim.x; }

// The sum of `v` over the block (blockDim.x == BLOCK), by a fixed tree: slot i adds slot
// i + w for w = BLOCK/2, BLOCK/4, ..., 1. Every thread gets the total. Callable several
// times in a row (the last barrier protects the slots before the next call writes them).
template <typename A> __device__ A block_sum(A v) {
    __shared__ A slots[BLOCK];
    slots[threadIdx.x] = v;
    __syncthreads();
    for (int w = BLOCK / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w) slots[threadIdx.x] += slots[threadIdx.x + w];
        __syncthreads();
    }
    A total = slots[0];
    __syncthreads();
    return total;
}

// The maximum of `v` over the block (NaN loses, as in Rust's fold with max).
template <typename A> __device__ A block_max(A v) {
    __shared__ A slots[BLOCK];
    slots[threadIdx.x] = v;
    __syncthreads();
    for (int w = BLOCK / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w) slots[threadIdx.x] = max_(slots[threadIdx.x], slots[threadIdx.x + w]);
        __syncthreads();
    }
    A best = slots[0];
    __syncthreads();
    return best;
}

// Instantiates a kernel for both dtypes: GEN(T, suffix) expands to one
// `extern "C" __global__ void {op}_{suffix}(...)` that calls the template body.
#define FOR_BOTH_DTYPES(GEN) GEN(float, f32) GEN(double, f64)
