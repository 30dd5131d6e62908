// Convolution as im2col + cuBLAS: these kernels unroll images into columns and fold
// columns back. Layouts: x [images, c_in, h, w] (NCHW); cols [images, c_in·kh·kw, oh·ow]
// (row (c·kh + i)·kw + j, column oy·ow + ox), the CPU's im2col per image. The GEMMs with
// the weight [c_out, c_in·kh·kw] run in cuBLAS; the bias is added by add_channels.
#include "common.cuh"

// One thread per element of cols; zero where the window reads padding.
template <typename T>
__device__ void im2col_body(const T* x, T* cols, u64 images, int c_in, int h, int w, int kh, int kw, int stride,
                            int pad, int oh, int ow) {
    u64 p = (u64)oh * ow, k = (u64)c_in * kh * kw, n = images * k * p;
    for (u64 e = global_index(); e < n; e += grid_size()) {
        u64 pix = e % p, row = (e / p) % k, img = e / (p * k);
        int ox = pix % ow, oy = pix / ow;
        int j = row % kw, i = (row / kw) % kh, c = row / ((u64)kw * kh);
        int y = oy * stride + i - pad, xx = ox * stride + j - pad;
        cols[e] = (y >= 0 && y < h && xx >= 0 && xx < w) ? x[((img * c_in + c) * h + y) * w + xx] : (T)0;
    }
}
#define GEN(T, S)                                                                                            \
    extern "C" __global__ void im2col_##S(const T* x, T* cols, u64 images, int c_in, int h, int w, int kh,   \
                                          int kw, int stride, int pad, int oh, int ow) {                     \
        im2col_body<T>(x, cols, images, c_in, h, w, kh, kw, stride, pad, oh, ow);                            \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// The adjoint of im2col as a gather: one thread per input pixel sums the column
// entries that read it, kernel offsets (i, j) in order (the order the CPU's col2im adds
// them), and writes dx (no atomics, no zeroing needed).
template <typename T>
__device__ void col2im_body(const T* cols, T* dx, u64 images, int c_in, int h, int w, int kh, int kw, int stride,
                            int pad, int oh, int ow) {
    u64 p = (u64)oh * ow, k = (u64)c_in * kh * kw, n = images * c_in * h * w;
    for (u64 e = global_index(); e < n; e += grid_size()) {
        int xx = e % w, y = (e / w) % h, c = (e / ((u64)w * h)) % c_in;
        u64 img = e / ((u64)w * h * c_in);
        T s = (T)0;
        for (int i = 0; i < kh; i++) {
            int ty = y + pad - i;
            if (ty < 0 || ty % stride != 0 || ty / stride >= oh) continue;
            for (int j = 0; j < kw; j++) {
                int tx = xx + pad - j;
                if (tx < 0 || tx % stride != 0 || tx / stride >= ow) continue;
                u64 row = ((u64)c * kh + i) * kw + j;
                s = s + cols[(img * k + row) * p + (u64)(ty / stride) * ow + tx / stride];
            }
        }
        dx[e] = s;
    }
}
#define GEN(T, S)                                                                                            \
    extern "C" __global__ void col2im_##S(const T* cols, T* dx, u64 images, int c_in, int h, int w, int kh,  \
                                          int kw, int stride, int pad, int oh, int ow) {                     \
        col2im_body<T>(cols, dx, images, c_in, h, w, kh, kw, stride, pad, oh, ow);                           \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN
