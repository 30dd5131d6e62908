//! The one list of kernel names. Every symbol the CUDA backend launches is
//! `{name}_{dtype}` for a name here; a test compiles kernels/ and checks that each name
//! has an entry for both dtypes and that no kernel exists without a name.

use crate::backend::{DType, LossKernel, Map, Zip};

/// A kernel family: its name (the `Backend` method it implements, or a helper's name),
/// the file in kernels/ that defines it, and the `Backend` methods that launch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelOp {
    pub name: &'static str,
    pub file: &'static str,
    pub used_by: &'static [&'static str],
}

const fn op(name: &'static str, file: &'static str, used_by: &'static [&'static str]) -> KernelOp {
    KernelOp { name, file, used_by }
}

pub const KERNELS: &[KernelOp] = &[
    op("filled", "elementwise.cu", &["filled"]),
    // The fused max-pool + ReLU is the trait's composition on CUDA: the pool, then the
    // map (or the map's gradient, then the pool's).
    op("map", "elementwise.cu", &["map", "max_pool2d_relu"]),
    op("map_grad", "elementwise.cu", &["map_grad", "max_pool2d_relu_grad"]),
    op("zip", "elementwise.cu", &["zip"]),
    op("add_assign", "elementwise.cu", &["add_assign"]),
    op("add_row", "elementwise.cu", &["add_row"]),
    op("concat_cols", "elementwise.cu", &["concat_cols"]),
    op("slice_cols", "elementwise.cu", &["slice_cols"]),
    op("add_channels", "elementwise.cu", &["add_channels", "conv2d"]),
    op("scale_channels", "elementwise.cu", &["scale_channels"]),
    op("sum_rows", "reduce.cu", &["sum_rows"]),
    op("sum_all", "reduce.cu", &["sum_all"]),
    // The weight and bias gradients together are the trait's two calls on CUDA.
    op("sum_channels", "reduce.cu", &["sum_channels", "conv2d_grad_weight_and_bias"]),
    op("softmax_rows", "softmax_loss.cu", &["softmax_rows"]),
    op("softmax_rows_grad", "softmax_loss.cu", &["softmax_rows_grad"]),
    op("loss", "softmax_loss.cu", &["loss"]),
    op("loss_softmax_cross_entropy", "softmax_loss.cu", &["loss"]),
    op("loss_sum", "softmax_loss.cu", &["loss"]),
    op("im2col", "conv.cu", &["conv2d", "conv2d_grad_weight", "conv2d_grad_weight_and_bias"]),
    op("col2im", "conv.cu", &["conv2d_grad_input"]),
    op("max_pool2d", "pool.cu", &["max_pool2d", "max_pool2d_relu", "max_pool2d_relu_grad"]),
    op("max_pool2d_grad", "pool.cu", &["max_pool2d_grad", "max_pool2d_relu_grad"]),
    op("avg_pool2d", "pool.cu", &["avg_pool2d"]),
    op("avg_pool2d_grad", "pool.cu", &["avg_pool2d_grad"]),
    op("batch_norm", "batchnorm.cu", &["batch_norm"]),
    op("batch_norm_grad", "batchnorm.cu", &["batch_norm_grad"]),
    op("adam_update", "optim.cu", &["adam_update"]),
    op("rmsprop_update", "optim.cu", &["rmsprop_update"]),
    op("sgd_update", "optim.cu", &["sgd_update"]),
];

/// `Backend` methods that need no kernel of their own: bookkeeping, the error check
/// (a stream synchronisation), copies (cuMemcpy) and matrix products (cuBLAS).
pub const HOST_ONLY: &[&str] = &["name", "threads", "check", "upload", "download", "len", "copy", "matmul"];

/// The dtypes every kernel is instantiated for.
pub const DTYPES: [DType; 2] = [DType::F32, DType::F64];

/// The kernel symbol of `name` for `dtype`: `{name}_{dtype}`.
pub fn symbol(name: &str, dtype: DType) -> String {
    format!("{name}_{}", dtype.name())
}

/// The kernel named `name`, if the list has it.
pub fn kernel(name: &str) -> Option<&'static KernelOp> {
    KERNELS.iter().find(|k| k.name == name)
}

/// `Map` as the kernels' (MAP_* code, scalar) pair; the codes match kernels/common.cuh.
pub fn map_code(f: Map) -> (i32, f64) {
    match f {
        Map::Identity => (0, 0.0),
        Map::Sigmoid => (1, 0.0),
        Map::Tanh => (2, 0.0),
        Map::Relu => (3, 0.0),
        Map::LeakyRelu(a) => (4, a),
        Map::Exp => (5, 0.0),
        Map::Log => (6, 0.0),
        Map::Square => (7, 0.0),
        Map::AddScalar(s) => (8, s),
        Map::MulScalar(s) => (9, s),
    }
}

/// `Zip` as its ZIP_* code.
pub fn zip_code(f: Zip) -> i32 {
    match f {
        Zip::Add => 0,
        Zip::Sub => 1,
        Zip::Mul => 2,
    }
}

/// The LOSS_* code of an element-wise loss; None for softmax cross-entropy, which has
/// its own row kernel.
pub fn loss_code(kind: LossKernel) -> Option<i32> {
    match kind {
        LossKernel::SquaredError => Some(0),
        LossKernel::Bce => Some(1),
        LossKernel::SigmoidBce => Some(2),
        LossKernel::SoftmaxCrossEntropy => None,
    }
}
