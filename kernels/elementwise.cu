// Element-wise ops: one thread per element in grid-stride loops (any grid size gives the
// same values, since each output depends only on its own inputs). Scalars arrive as
// double and are rounded to T first, as the CPU's T::from_f64 does.
#include "common.cuh"

template <typename T> __device__ void filled_body(T* out, u64 n, double value) {
    T v = (T)value;
    for (u64 i = global_index(); i < n; i += grid_size()) out[i] = v;
}
#define GEN(T, S) \
    extern "C" __global__ void filled_##S(T* out, u64 n, double value) { filled_body<T>(out, n, value); }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// The CPU's formulas: σ(x) = 1/(1 + e^−x), tanh(x) = 2/(1 + e^−2x) − 1 (below |x| < 0.125
// its series to x^15, src/backend/cpu/elementwise.rs `tanh_series`).
template <typename T>
__device__ T tanh_(T v) {
    const T one = (T)1, two = (T)2;
    if (v == (T)0) return v;
    if (abs_(v) >= (T)0.125) return two / (one + exp_(-two * v)) - one;
    const double c[7] = {-1.0 / 3.0, 2.0 / 15.0, -17.0 / 315.0, 62.0 / 2835.0, -1382.0 / 155925.0,
                         21844.0 / 6081075.0, -929569.0 / 638512875.0};
    T z = v * v, inner = (T)0;
    for (int i = 6; i >= 0; --i) inner = inner * z + (T)c[i];
    return v + v * (z * inner);
}
template <typename T> __device__ T map_one(int f, T a, T v) {
    const T one = (T)1, two = (T)2, zero = (T)0;
    switch (f) {
    case MAP_IDENTITY: return v;
    case MAP_SIGMOID: return one / (one + exp_(-v));
    case MAP_TANH: return tanh_(v);
    case MAP_RELU: return v > zero ? v : zero;  // as the CPU: +0 for -0 and NaN
    case MAP_LEAKY_RELU: return v > zero ? v : a * v;
    case MAP_EXP: return exp_(v);
    case MAP_LOG: return log_(v);
    case MAP_SQUARE: return v * v;
    case MAP_ADD_SCALAR: return v + a;
    case MAP_MUL_SCALAR: return v * a;
    default: return v;
    }
}
template <typename T> __device__ void map_body(int f, double scalar, const T* x, T* y, u64 n) {
    T a = (T)scalar;
    for (u64 i = global_index(); i < n; i += grid_size()) y[i] = map_one<T>(f, a, x[i]);
}
#define GEN(T, S)                                                                          \
    extern "C" __global__ void map_##S(int f, double scalar, const T* x, T* y, u64 n) { \
        map_body<T>(f, scalar, x, y, n);                                                   \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// dx from x, y = f(x) and dy, each rule reading whichever the CPU reads.
template <typename T> __device__ T map_grad_one(int f, T a, T x, T y, T d) {
    const T one = (T)1, two = (T)2, zero = (T)0;
    switch (f) {
    case MAP_IDENTITY:
    case MAP_ADD_SCALAR: return d;
    case MAP_SIGMOID: return d * y * (one - y);
    case MAP_TANH: return d * (one - y * y);
    case MAP_RELU: return x > zero ? d : zero;
    case MAP_LEAKY_RELU: return x > zero ? d : d * a;
    case MAP_EXP: return d * y;
    case MAP_LOG: return d / x;
    case MAP_SQUARE: return d * two * x;
    case MAP_MUL_SCALAR: return d * a;
    default: return d;
    }
}
template <typename T>
__device__ void map_grad_body(int f, double scalar, const T* x, const T* y, const T* dy, T* dx, u64 n) {
    T a = (T)scalar;
    for (u64 i = global_index(); i < n; i += grid_size()) dx[i] = map_grad_one<T>(f, a, x[i], y[i], dy[i]);
}
#define GEN(T, S)                                                                                           \
    extern "C" __global__ void map_grad_##S(int f, double scalar, const T* x, const T* y, const T* dy, T* dx, \
                                             u64 n) {                                                         \
        map_grad_body<T>(f, scalar, x, y, dy, dx, n);                                                        \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

template <typename T> __device__ void zip_body(int f, const T* a, const T* b, T* out, u64 n) {
    for (u64 i = global_index(); i < n; i += grid_size()) {
        T x = a[i], y = b[i];
        out[i] = f == ZIP_ADD ? x + y : f == ZIP_SUB ? x - y : x * y;
    }
}
#define GEN(T, S) \
    extern "C" __global__ void zip_##S(int f, const T* a, const T* b, T* out, u64 n) { zip_body<T>(f, a, b, out, n); }
FOR_BOTH_DTYPES(GEN)
#undef GEN

template <typename T> __device__ void add_assign_body(T* a, const T* b, u64 n) {
    for (u64 i = global_index(); i < n; i += grid_size()) a[i] = a[i] + b[i];
}
#define GEN(T, S) \
    extern "C" __global__ void add_assign_##S(T* a, const T* b, u64 n) { add_assign_body<T>(a, b, n); }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// out = x (rows×cols) + row broadcast over every row; n = rows·cols.
template <typename T> __device__ void add_row_body(const T* x, const T* row, T* out, u64 n, u64 cols) {
    for (u64 i = global_index(); i < n; i += grid_size()) out[i] = x[i] + row[i % cols];
}
#define GEN(T, S)                                                                              \
    extern "C" __global__ void add_row_##S(const T* x, const T* row, T* out, u64 n, u64 cols) { \
        add_row_body<T>(x, row, out, n, cols);                                                  \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// Copies one part (rows×width) into columns [offset, offset+width) of out (rows×total);
// concat_cols launches it once per part.
template <typename T>
__device__ void concat_cols_body(const T* part, T* out, u64 rows, u64 width, u64 total, u64 offset) {
    for (u64 i = global_index(); i < rows * width; i += grid_size()) {
        u64 r = i / width, c = i % width;
        out[r * total + offset + c] = part[i];
    }
}
#define GEN(T, S)                                                                                            \
    extern "C" __global__ void concat_cols_##S(const T* part, T* out, u64 rows, u64 width, u64 total, u64 offset) { \
        concat_cols_body<T>(part, out, rows, width, total, offset);                                           \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// Columns [start, start+width) of x (rows×cols) into out (rows×width).
template <typename T>
__device__ void slice_cols_body(const T* x, T* out, u64 rows, u64 cols, u64 start, u64 width) {
    for (u64 i = global_index(); i < rows * width; i += grid_size()) {
        u64 r = i / width, c = i % width;
        out[i] = x[r * cols + start + c];
    }
}
#define GEN(T, S)                                                                                          \
    extern "C" __global__ void slice_cols_##S(const T* x, T* out, u64 rows, u64 cols, u64 start, u64 width) { \
        slice_cols_body<T>(x, out, rows, cols, start, width);                                               \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// x + v[c] and x · v[c] over [batch, c, spatial] values; n = batch·c·spatial.
template <typename T>
__device__ void channels_body(bool scale, const T* x, const T* v, T* out, u64 n, u64 c, u64 spatial) {
    for (u64 i = global_index(); i < n; i += grid_size()) {
        T w = v[(i / spatial) % c];
        out[i] = scale ? x[i] * w : x[i] + w;
    }
}
#define GEN(T, S)                                                                                             \
    extern "C" __global__ void add_channels_##S(const T* x, const T* v, T* out, u64 n, u64 c, u64 spatial) {   \
        channels_body<T>(false, x, v, out, n, c, spatial);                                                    \
    }                                                                                                         \
    extern "C" __global__ void scale_channels_##S(const T* x, const T* v, T* out, u64 n, u64 c, u64 spatial) { \
        channels_body<T>(true, x, v, out, n, c, spatial);                                                     \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN
