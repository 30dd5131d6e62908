// Optimizer updates in place, one thread per parameter (PyTorch's formulas, the CPU's
// order of operations). Every coefficient is formed on the host in f64 exactly as the
// CPU forms it (1 − β, bias corrections, 1 − lr·wd) and rounded to T here.
#include "common.cuh"

// Adam (L2 penalty in the gradient) or AdamW (decoupled: p ← p·decay first).
template <typename T>
__device__ void adam_update_body(T* param, const T* grad, T* m, T* v, u64 n, double beta1, double one_beta1,
                                 double beta2, double one_beta2, double c1, double c2, double lr, double eps,
                                 double weight_decay, double decay, int decoupled) {
    T b1 = (T)beta1, ob1 = (T)one_beta1, b2 = (T)beta2, ob2 = (T)one_beta2, tc1 = (T)c1, tc2 = (T)c2;
    T tlr = (T)lr, teps = (T)eps, wd = (T)weight_decay, tdecay = (T)decay;
    for (u64 i = global_index(); i < n; i += grid_size()) {
        T p = param[i], g = grad[i];
        if (decoupled) {
            p = p * tdecay;
        } else {
            g = g + wd * p;
        }
        T mi = b1 * m[i] + ob1 * g;
        T vi = b2 * v[i] + ob2 * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = p - tlr * (mi * tc1) / (sqrt_(vi * tc2) + teps);
    }
}
#define GEN(T, S)                                                                                                 \
    extern "C" __global__ void adam_update_##S(T* param, const T* grad, T* m, T* v, u64 n, double beta1,          \
                                               double one_beta1, double beta2, double one_beta2, double c1,       \
                                               double c2, double lr, double eps, double weight_decay,             \
                                               double decay, int decoupled) {                                     \
        adam_update_body<T>(param, grad, m, v, n, beta1, one_beta1, beta2, one_beta2, c1, c2, lr, eps,            \
                            weight_decay, decay, decoupled);                                                      \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// RMSProp; `momentum_buf` is null when momentum is off.
template <typename T>
__device__ void rmsprop_update_body(T* param, const T* grad, T* square_avg, T* momentum_buf, u64 n, double alpha,
                                    double one_alpha, double lr, double eps, double weight_decay, double momentum) {
    T a = (T)alpha, oa = (T)one_alpha, tlr = (T)lr, teps = (T)eps, wd = (T)weight_decay, mu = (T)momentum;
    for (u64 i = global_index(); i < n; i += grid_size()) {
        T p = param[i];
        T g = grad[i] + wd * p;
        T q = a * square_avg[i] + oa * g * g;
        square_avg[i] = q;
        if (momentum_buf) {
            T b = mu * momentum_buf[i] + g / (sqrt_(q) + teps);
            momentum_buf[i] = b;
            param[i] = p - tlr * b;
        } else {
            param[i] = p - tlr * g / (sqrt_(q) + teps);
        }
    }
}
#define GEN(T, S)                                                                                                 \
    extern "C" __global__ void rmsprop_update_##S(T* param, const T* grad, T* square_avg, T* momentum_buf, u64 n, \
                                                  double alpha, double one_alpha, double lr, double eps,          \
                                                  double weight_decay, double momentum) {                         \
        rmsprop_update_body<T>(param, grad, square_avg, momentum_buf, n, alpha, one_alpha, lr, eps, weight_decay, \
                               momentum);                                                                         \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN

// SGD; `velocity` is null without momentum.
template <typename T>
__device__ void sgd_update_body(T* param, const T* grad, T* velocity, u64 n, double lr, double weight_decay,
                                double momentum, int nesterov) {
    T tlr = (T)lr, wd = (T)weight_decay, mu = (T)momentum;
    for (u64 i = global_index(); i < n; i += grid_size()) {
        T p = param[i];
        if (velocity) {
            T g = grad[i] + wd * p;
            T v = mu * velocity[i] + g;
            velocity[i] = v;
            T d = nesterov ? g + mu * v : v;
            param[i] = p - tlr * d;
        } else {
            param[i] = p - tlr * (grad[i] + wd * p);
        }
    }
}
#define GEN(T, S)                                                                                           \
    extern "C" __global__ void sgd_update_##S(T* param, const T* grad, T* velocity, u64 n, double lr,       \
                                              double weight_decay, double momentum, int nesterov) {         \
        sgd_update_body<T>(param, grad, velocity, n, lr, weight_decay, momentum, nesterov);                 \
    }
FOR_BOTH_DTYPES(GEN)
#undef GEN
