// Softmax over rows and the fused losses. Row kernels run one block (BLOCK threads)
// per row: gridDim.x == rows. A loss writes its gradient and one f64 loss term per
// element (or per row), and `loss_sum` adds the terms in a fixed tree, so the summed
// loss is the same bytes on every rerun.
#include "common.cuh"

// y = softmax(x) per row: max, e^(x − max), Σ, divide (the CPU's steps).
template <typename T> __device__ void softmax_rows_body(const T* x, T* y, u64 cols) {
    const T* xr = x + blockIdx.x * cols;
    T* yr = y + blockIdx.x * cols;
    T m = neg_infinity((T)0);
    for (u64 j = threadIdx.x; j < cols; j += BLOCK) m = max_(m, xr[j]);
    m = block_max<T>(m);
    T s = (T)0;
    for (u64 j = threadIdx.x; j < cols; j += BLOCK) {
        T e = exp_(xr[j] - m);
        yr[j] = e;
        s = s + e;
    }
    s = block_sum<T>(s);
    for (u64 j = threadIdx.x; j < cols; j += BLOCK) yr[j] = yr[j] / s;
}
#define GEN(T, S)                                                               \
    extern "C" __global__ void softmax_rows_##S(const T* x, T* y, u64 cols) { \
        softmax_rows_body<T>(x, y, cols);                                       \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// dx = y ⊙ (dy − ⟨y, dy⟩) per row.
template <typename T> __device__ void softmax_rows_grad_body(const T* y, const T* dy, T* dx, u64 cols) {
    u64 at = blockIdx.x * cols;
    T dot = (T)0;
    for (u64 j = threadIdx.x; j < cols; j += BLOCK) dot = dot + y[at + j] * dy[at + j];
    dot = block_sum<T>(dot);
    for (u64 j = threadIdx.x; j < cols; j += BLOCK) dx[at + j] = y[at + j] * (dy[at + j] - dot);
}
#define GEN(T, S)                                                                                \
    extern "C" __global__ void softmax_rows_grad_##S(const T* y, const T* dy, T* dx, u64 cols) { \
        softmax_rows_grad_body<T>(y, dy, dx, cols);                                              \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// The element-wise losses (kind: LOSS_*): grad[i] and terms[i] (f64) per element.
template <typename T>
__device__ void loss_body(int kind, const T* pred, const T* target, T* grad, double* terms, u64 n) {
    const T one = (T)1, zero = (T)0;
    for (u64 i = global_index(); i < n; i += grid_size()) {
        T p = pred[i], t = target[i];
        if (kind == LOSS_SQUARED_ERROR) {
            T d = p - t;
            terms[i] = (double)(d * d);
            grad[i] = d + d;
        } else if (kind == LOSS_BCE) {
            // In f64: each log floored at LOG_FLOOR (PyTorch's BCELoss), the gradient on
            // the clamped probability (src/backend/cpu/loss.rs).
            double v = (double)p, u = (double)t;
            terms[i] = -(u * fmax(log(v), LOG_FLOOR) + (1.0 - u) * fmax(log(1.0 - v), LOG_FLOOR));
            double q = fmin(fmax(v, PROB_EPS), 1.0 - PROB_EPS);
            grad[i] = (T)((q - u) / (q * (1.0 - q)));
        } else {
            // Sigmoid BCE on the logit z = p: softplus(z) − t·z, gradient σ(z) − t.
            T e = exp_(-abs_(p));
            T s = p >= zero ? one / (one + e) : e / (one + e);
            grad[i] = s - t;
            terms[i] = (double)(max_(p, zero) - p * t + log_(one + e));
        }
    }
}
#define GEN(T, S)                                                                                          \
    extern "C" __global__ void loss_##S(int kind, const T* pred, const T* target, T* grad, double* terms, \
                                        u64 n) {                                                           \
        loss_body<T>(kind, pred, target, grad, terms, n);                                                  \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// Softmax cross-entropy per row of logits z: grad = softmax(z)·Σt − t (softmax(z) − t
// where the row sums to 1), row_terms[row] = Σ −t·ln p over the row's nonzero targets
// (f64), ln p taken from the logits where p < PROB_EPS (src/backend/cpu/loss.rs).
template <typename T>
__device__ void loss_softmax_cross_entropy_body(const T* z, const T* target, T* grad, double* row_terms, u64 cols) {
    u64 at = blockIdx.x * cols;
    T m = neg_infinity((T)0);
    for (u64 j = threadIdx.x; j < cols; j += BLOCK) m = max_(m, z[at + j]);
    m = block_max<T>(m);
    T s = (T)0;
    for (u64 j = threadIdx.x; j < cols; j += BLOCK) {
        T e = exp_(z[at + j] - m);
        grad[at + j] = e;
        s = s + e;
    }
    s = block_sum<T>(s);
    T mass = (T)0;
    for (u64 j = threadIdx.x; j < cols; j += BLOCK) mass = mass + target[at + j];
    mass = block_sum<T>(mass);
    double term = 0.0;
    for (u64 j = threadIdx.x; j < cols; j += BLOCK) {
        T p = grad[at + j] / s, t = target[at + j];
        double tf = (double)t;
        if (tf != 0.0) {
            double ln_p = (double)p >= PROB_EPS ? log((double)p) : (double)(z[at + j] - m) - log((double)s);
            term -= tf * ln_p;
        }
        grad[at + j] = mass == (T)1 ? p - t : p * mass - t;
    }
    term = block_sum<double>(term);
    if (threadIdx.x == 0) row_terms[blockIdx.x] = term;
}
#define GEN(T, S)                                                                                             \
    extern "C" __global__ void loss_softmax_cross_entropy_##S(const T* z, const T* target, T* grad,           \
                                                              double* row_terms, u64 cols) {                  \
        loss_softmax_cross_entropy_body<T>(z, target, grad, row_terms, cols);                                 \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// out[0] = Σ terms (f64) over n values; ONE block of BLOCK threads. The same for both
// dtypes (the terms are always f64); instantiated twice so every symbol is {op}_{dtype}.
template <typename T> __device__ void loss_sum_body(const double* terms, double* out, u64 n) {
    double s = 0.0;
    for (u64 i = threadIdx.x; i < n; i += BLOCK) s += terms[i];
    s = block_sum<double>(s);
    if (threadIdx.x == 0) out[0] = s;
}
#define GEN(T, S)                                                                  \
    extern "C" __global__ void loss_sum_##S(const double* terms, double* out, u64 n) { \
        loss_sum_body<T>(terms, out, n);                                               \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN
