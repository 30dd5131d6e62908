//! Closed-form least squares, θ = X⁺y (the notes' "linear regression is multiplying by
//! the pseudo-inverse"), by Householder QR in f64. A rank-deficient X is an error
//! rather than a silent minimum-norm answer.

/// Solves min ‖Xθ − y‖² for X (n×p, row-major) and each column of Y (n×q).
/// Returns θ as p×q, row-major.
pub fn least_squares(x: &[f64], n: usize, p: usize, y: &[f64], q: usize) -> Result<Vec<f64>, String> {
    if n < p {
        return Err(format!("least squares needs at least as many samples ({n}) as inputs ({p})"));
    }
    let mut a = x.to_vec();
    let mut b = y.to_vec();
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    for k in 0..p {
        let norm = (k..n).map(|i| a[i * p + k].powi(2)).sum::<f64>().sqrt();
        if norm <= 1e-12 * scale * (n as f64).sqrt() {
            return Err(format!("the inputs are linearly dependent (column {k}); the least-squares fit is not unique"));
        }
        let alpha = if a[k * p + k] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (k..n).map(|i| a[i * p + k]).collect();
        v[0] -= alpha;
        let vnorm2 = v.iter().map(|x| x * x).sum::<f64>();
        if vnorm2 == 0.0 {
            continue;
        }
        for j in k..p {
            let dot: f64 = (k..n).map(|i| v[i - k] * a[i * p + j]).sum();
            let f = 2.0 * dot / vnorm2;
            for i in k..n {
                a[i * p + j] -= f * v[i - k];
            }
        }
        for j in 0..q {
            let dot: f64 = (k..n).map(|i| v[i - k] * b[i * q + j]).sum();
            let f = 2.0 * dot / vnorm2;
            for i in k..n {
                b[i * q + j] -= f * v[i - k];
            }
        }
    }
    // Back-substitution with the upper-triangular R.
    let mut theta = vec![0.0; p * q];
    for j in 0..q {
        for k in (0..p).rev() {
            let s: f64 = (k + 1..p).map(|c| a[k * p + c] * theta[c * q + j]).sum();
            theta[k * q + j] = (b[k * q + j] - s) / a[k * p + k];
        }
    }
    Ok(theta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_linear_map() {
        // y = 1 + 2a − 3b on four points.
        let x = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 2.0, 3.0];
        let y: Vec<f64> = x.chunks(3).map(|r| r[0] + 2.0 * r[1] - 3.0 * r[2]).collect();
        let t = least_squares(&x, 4, 3, &y, 1).unwrap();
        for (got, want) in t.iter().zip([1.0, 2.0, -3.0]) {
            assert!((got - want).abs() < 1e-12, "{t:?}");
        }
    }

    #[test]
    fn dependent_columns_are_an_error() {
        let x = [1.0, 2.0, 2.0, 4.0, 3.0, 6.0];
        assert!(least_squares(&x, 3, 2, &[1.0, 2.0, 3.0], 1).is_err());
    }
}
