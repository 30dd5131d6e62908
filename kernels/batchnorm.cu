// Batch normalisation in training over [batch, c, spatial] values: one block (BLOCK
// threads) per channel, gridDim.x == c. Channel statistics are accumulated in f64 and
// reduced by block_sum's fixed tree, then the per-channel coefficients are formed in
// f64 and rounded to T, as the CPU does.
#include "common.cuh"

// Value j (0 ≤ j < batch·spatial) of channel ch.
__device__ __forceinline__ u64 channel_at(u64 j, u64 ch, u64 c, u64 spatial) {
    return ((j / spatial) * c + ch) * spatial + j % spatial;
}

// y = x·(γ/σ) + (β − μγ/σ); mean, inv_std (1/σ) and var (biased) per channel.
template <typename T>
__device__ void batch_norm_body(const T* x, const T* gamma, const T* beta, T* y, T* mean_out, T* inv_out, T* var_out,
                                u64 batch, u64 c, u64 spatial, double eps) {
    u64 ch = blockIdx.x, n = batch * spatial;
    double s = 0.0;
    for (u64 j = threadIdx.x; j < n; j += BLOCK) s += (double)x[channel_at(j, ch, c, spatial)];
    double mean = block_sum<double>(s) / (double)n;
    double q = 0.0;
    for (u64 j = threadIdx.x; j < n; j += BLOCK) {
        double d = (double)x[channel_at(j, ch, c, spatial)] - mean;
        q += d * d;
    }
    double var = block_sum<double>(q) / (double)n;
    double inv = 1.0 / sqrt(var + eps);
    double g = (double)gamma[ch];
    T scale = (T)(g * inv), shift = (T)((double)beta[ch] - mean * g * inv);
    for (u64 j = threadIdx.x; j < n; j += BLOCK) {
        u64 at = channel_at(j, ch, c, spatial);
        y[at] = x[at] * scale + shift;
    }
    if (threadIdx.x == 0) {
        mean_out[ch] = (T)mean;
        inv_out[ch] = (T)inv;
        var_out[ch] = (T)var;
    }
}
#define GEN(T, S)                                                                                               \
    extern "C" __global__ void batch_norm_##S(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* inv,   \
                                              T* var, u64 batch, u64 c, u64 spatial, double eps) {              \
        batch_norm_body<T>(x, gamma, beta, y, mean, inv, var, batch, c, spatial, eps);                          \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// With x̂ = (x − μ)/σ: dβ = Σdy, dγ = Σdy·x̂, dx = a·dy + b·x + k with a = γ/σ,
// b = −a·dγ/(Nσ), k = −a·dβ/N − b·μ (the CPU's coefficients).
template <typename T>
__device__ void batch_norm_grad_body(const T* x, const T* mean, const T* inv_std, const T* gamma, const T* dy, T* dx,
                                     T* dgamma, T* dbeta, u64 batch, u64 c, u64 spatial) {
    u64 ch = blockIdx.x, count = batch * spatial;
    double mu = (double)mean[ch], inv = (double)inv_std[ch];
    double sb = 0.0, sg = 0.0;
    for (u64 j = threadIdx.x; j < count; j += BLOCK) {
        u64 at = channel_at(j, ch, c, spatial);
        double d = (double)dy[at];
        sb += d;
        sg += d * ((double)x[at] - mu) * inv;
    }
    double db = block_sum<double>(sb);
    double dg = block_sum<double>(sg);
    double n = (double)count;
    double a = (double)gamma[ch] * inv;
    double b = -a * dg * inv / n;
    double k = -a * db / n - b * mu;
    T ta = (T)a, tb = (T)b, tk = (T)k;
    for (u64 j = threadIdx.x; j < count; j += BLOCK) {
        u64 at = channel_at(j, ch, c, spatial);
        dx[at] = ta * dy[at] + tb * x[at] + tk;
    }
    if (threadIdx.x == 0) {
        dgamma[ch] = (T)dg;
        dbeta[ch] = (T)db;
    }
}
#define GEN(T, S)                                                                                              \
    extern "C" __global__ void batch_norm_grad_##S(const T* x, const T* mean, const T* inv_std, const T* gamma,  \
                                                   const T* dy, T* dx, T* dgamma, T* dbeta, u64 batch, u64 c,   \
                                                   u64 spatial) {                                              \
        batch_norm_grad_body<T>(x, mean, inv_std, gamma, dy, dx, dgamma, dbeta, batch, c, spatial);            \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN
