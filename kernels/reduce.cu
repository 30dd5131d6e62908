// Sums in a fixed order. A column sum runs down its rows in order on one thread (the
// CPU's order, so the same rounding); whole-buffer and per-channel sums give each block
// one output, threads stride over its values, then block_sum's fixed tree. No atomics.
#include "common.cuh"

// out[c] = Σ_r x[r·cols + c], rows in order; one thread per column.
template <typename T> __device__ void sum_rows_body(const T* x, T* out, u64 rows, u64 cols) {
    for (u64 c = global_index(); c < cols; c += grid_size()) {
        T s = (T)0;
        for (u64 r = 0; r < rows; r++) s = s + x[r * cols + c];
        out[c] = s;
    }
}
#define GEN(T, S)                                                                 \
    extern "C" __global__ void sum_rows_##S(const T* x, T* out, u64 rows, u64 cols) { \
        sum_rows_body<T>(x, out, rows, cols);                                         \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// out[0] = Σ x over n values; launched as ONE block of BLOCK threads.
template <typename T> __device__ void sum_all_body(const T* x, T* out, u64 n) {
    T s = (T)0;
    for (u64 i = threadIdx.x; i < n; i += BLOCK) s = s + x[i];
    s = block_sum<T>(s);
    if (threadIdx.x == 0) out[0] = s;
}
#define GEN(T, S) \
    extern "C" __global__ void sum_all_##S(const T* x, T* out, u64 n) { sum_all_body<T>(x, out, n); }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// out[ch] = Σ over batch and space of x[b, ch, s], accumulated in f64 (as the CPU);
// one block per channel (gridDim.x == c), BLOCK threads.
template <typename T> __device__ void sum_channels_body(const T* x, T* out, u64 batch, u64 c, u64 spatial) {
    u64 ch = blockIdx.x;
    double s = 0.0;
    for (u64 j = threadIdx.x; j < batch * spatial; j += BLOCK) s += (double)x[((j / spatial) * c + ch) * spatial + j % spatial];
    s = block_sum<double>(s);
    if (threadIdx.x == 0) out[ch] = (T)s;
}
#define GEN(T, S)                                                                                \
    extern "C" __global__ void sum_channels_##S(const T* x, T* out, u64 batch, u64 c, u64 spatial) { \
        sum_channels_body<T>(x, out, batch, c, spatial);                                             \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN
