// Max and average pooling over NCHW planes (square window k, stride, no padding). The
// forward passes run one thread per output; the backward passes one thread per input
// pixel, gathering from every window that covers it in (oy, ox) order, the order in
// which the CPU adds them. planes = batch·c.
#include "common.cuh"

// Index in the plane of the first maximum of window (oy, ox), in row-major window order
// (the CPU's `v > best` scan). A window of only NaN or −∞ keeps its first element.
template <typename T> __device__ int window_argmax(const T* xp, int w, int k, int stride, int oy, int ox) {
    int at = (oy * stride) * w + ox * stride;
    T best = neg_infinity((T)0);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            int idx = (oy * stride + i) * w + ox * stride + j;
            if (xp[idx] > best) {
                best = xp[idx];
                at = idx;
            }
        }
    return at;
}

template <typename T>
__device__ void max_pool2d_body(const T* x, T* y, u64 planes, int h, int w, int k, int stride, int oh, int ow) {
    u64 n = planes * oh * ow;
    for (u64 e = global_index(); e < n; e += grid_size()) {
        int ox = e % ow, oy = (e / ow) % oh;
        const T* xp = x + (e / ((u64)oh * ow)) * h * w;
        T best = neg_infinity((T)0);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                T v = xp[(oy * stride + i) * w + ox * stride + j];
                if (v > best) best = v;
            }
        y[e] = best;
    }
}
#define GEN(T, S)                                                                                           \
    extern "C" __global__ void max_pool2d_##S(const T* x, T* y, u64 planes, int h, int w, int k, int stride, \
                                              int oh, int ow) {                                             \
        max_pool2d_body<T>(x, y, planes, h, w, k, stride, oh, ow);                                          \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// The range of window rows (or columns) o with o·stride ≤ y < o·stride + k.
__device__ __forceinline__ void covering(int y, int k, int stride, int o_count, int* lo, int* hi) {
    *lo = y < k ? 0 : (y - k) / stride + 1;
    *hi = min(y / stride, o_count - 1);
}

template <typename T>
__device__ void max_pool2d_grad_body(const T* x, const T* dy, T* dx, u64 planes, int h, int w, int k, int stride,
                                     int oh, int ow) {
    u64 n = planes * h * w;
    for (u64 e = global_index(); e < n; e += grid_size()) {
        int xx = e % w, y = (e / w) % h;
        u64 plane = e / ((u64)h * w);
        const T* xp = x + plane * h * w;
        const T* dyp = dy + plane * oh * ow;
        int oy0, oy1, ox0, ox1;
        covering(y, k, stride, oh, &oy0, &oy1);
        covering(xx, k, stride, ow, &ox0, &ox1);
        T s = (T)0;
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++)
                if (window_argmax<T>(xp, w, k, stride, oy, ox) == y * w + xx) s = s + dyp[oy * ow + ox];
        dx[e] = s;
    }
}
#define GEN(T, S)                                                                                          \
    extern "C" __global__ void max_pool2d_grad_##S(const T* x, const T* dy, T* dx, u64 planes, int h, int w, \
                                                   int k, int stride, int oh, int ow) {                     \
        max_pool2d_grad_body<T>(x, dy, dx, planes, h, w, k, stride, oh, ow);                               \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// Window sum in window order, times 1/k² (rounded to T, as the CPU).
template <typename T>
__device__ void avg_pool2d_body(const T* x, T* y, u64 planes, int h, int w, int k, int stride, int oh, int ow) {
    T inv = (T)(1.0 / (double)(k * k));
    u64 n = planes * oh * ow;
    for (u64 e = global_index(); e < n; e += grid_size()) {
        int ox = e % ow, oy = (e / ow) % oh;
        const T* xp = x + (e / ((u64)oh * ow)) * h * w;
        T s = (T)0;
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) s = s + xp[(oy * stride + i) * w + ox * stride + j];
        y[e] = s * inv;
    }
}
#define GEN(T, S)                                                                                           \
    extern "C" __global__ void avg_pool2d_##S(const T* x, T* y, u64 planes, int h, int w, int k, int stride, \
                                              int oh, int ow) {                                             \
        avg_pool2d_body<T>(x, y, planes, h, w, k, stride, oh, ow);                                          \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

template <typename T>
__device__ void avg_pool2d_grad_body(const T* dy, T* dx, u64 planes, int h, int w, int k, int stride, int oh, int ow) {
    T inv = (T)(1.0 / (double)(k * k));
    u64 n = planes * h * w;
    for (u64 e = global_index(); e < n; e += grid_size()) {
        int xx = e % w, y = (e / w) % h;
        const T* dyp = dy + (e / ((u64)h * w)) * oh * ow;
        int oy0, oy1, ox0, ox1;
        covering(y, k, stride, oh, &oy0, &oy1);
        covering(xx, k, stride, ow, &ox0, &ox1);
        T s = (T)0;
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++) s = s + dyp[oy * ow + ox] * inv;
        dx[e] = s;
    }
}
#define GEN(T, S)                                                                                            \
    extern "C" __global__ void avg_pool2d_grad_##S(const T* dy, T* dx, u64 planes, int h, int w, int k,      \
                                                   int stride, int oh, int ow) {                             \
        avg_pool2d_grad_body<T>(dy, dx, planes, h, w, k, stride, oh, ow);                                    \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN
