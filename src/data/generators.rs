//! Seeded generators of the course's data sets and the usual toy classification sets.

use super::{Dataset, Place};
use crate::error::Result;
use crate::rng::{normal, uniform, StreamRng};
use crate::spec::{DataKind, DataSpec, Gate};

pub fn with_defaults(d: &DataSpec) -> DataSpec {
    let mut d = d.clone();
    let kind = d.kind.unwrap_or(DataKind::Inline);
    let n = match kind {
        DataKind::Linear => 100,
        DataKind::Diamond | DataKind::Square | DataKind::Circle => 500,
        DataKind::Xor | DataKind::Spirals | DataKind::Moons | DataKind::Blobs => 300,
        DataKind::Gates | DataKind::Inline | DataKind::Csv | DataKind::Mnist => 0,
    };
    if n > 0 {
        d.n.get_or_insert(n);
    }
    match kind {
        DataKind::Linear => {
            d.range.get_or_insert([0.0, 10.0]);
            d.coefficients.get_or_insert(vec![2.0, 5.0]);
            d.intercept.get_or_insert(1.5);
            d.noise.get_or_insert(0.5);
        }
        DataKind::Xor | DataKind::Diamond => {
            d.range.get_or_insert([-1.0, 1.0]);
        }
        DataKind::Square => {
            d.range.get_or_insert([-1.0, 1.0]);
            d.radius.get_or_insert(0.5);
        }
        DataKind::Circle => {
            d.range.get_or_insert([-1.0, 1.0]);
            d.radius.get_or_insert(0.75);
        }
        DataKind::Spirals => {
            d.classes.get_or_insert(2);
            d.noise.get_or_insert(0.2);
        }
        DataKind::Moons => {
            d.noise.get_or_insert(0.1);
        }
        DataKind::Blobs => {
            d.classes.get_or_insert(3);
            d.noise.get_or_insert(1.0);
        }
        _ => {}
    }
    d
}

fn xy_names() -> Vec<String> {
    vec!["x1".into(), "x2".into()]
}

fn classified(inputs: Vec<f64>, labels: Vec<f64>, classes: usize) -> Dataset {
    Dataset {
        inputs: inputs.into(),
        features: 2,
        feature_names: xy_names(),
        targets: labels,
        target_cols: 1,
        target_names: vec!["label".into()],
        classes: Some(classes),
        shape: Vec::new(),
    }
}

/// Points uniform in the square `range`², labelled by `inside`.
fn labelled_square(d: &DataSpec, rng: &mut StreamRng, inside: impl Fn(f64, f64) -> bool) -> Dataset {
    let [lo, hi] = d.range.unwrap_or([-1.0, 1.0]);
    let n = d.n.unwrap_or(0);
    // Row-major draw, as numpy's uniform(size=(n, 2)) fills it.
    let inputs: Vec<f64> = (0..2 * n).map(|_| uniform(rng, lo, hi)).collect();
    let labels = inputs.chunks_exact(2).map(|p| f64::from(u8::from(inside(p[0], p[1])))).collect();
    classified(inputs, labels, 2)
}

/// Checks what a generator needs of `n` and `classes` (each value alone was checked
/// when parsed), then draws the data set.
pub fn generate(d: &DataSpec, place: &Place, rng: &mut StreamRng) -> Result<Dataset> {
    let n = d.n.unwrap_or(0);
    let noise = d.noise.unwrap_or(0.0);
    let radius = d.radius.unwrap_or(0.5);
    let kind = d.kind.unwrap_or(DataKind::Inline);
    if matches!(kind, DataKind::Spirals | DataKind::Blobs) {
        let k = d.classes.unwrap_or(2);
        if k > n {
            return Err(
                place.key("classes", format!("{k} classes need at least {k} samples (one per class), and `n` is {n}"))
            );
        }
    }
    Ok(match kind {
        DataKind::Linear => linear(d, rng),
        DataKind::Gates => gates(d.gate.unwrap_or(Gate::And)),
        DataKind::Xor => labelled_square(d, rng, |x, y| (x > 0.0) != (y > 0.0)),
        DataKind::Diamond => labelled_square(d, rng, |x, y| x.abs() + y.abs() < 1.0),
        DataKind::Square => labelled_square(d, rng, |x, y| x.abs().max(y.abs()) < radius),
        DataKind::Circle => labelled_square(d, rng, |x, y| x * x + y * y < radius * radius),
        DataKind::Spirals => spirals(n, d.classes.unwrap_or(2), noise, rng),
        DataKind::Moons => moons(n, noise, rng),
        DataKind::Blobs => blobs(n, d.classes.unwrap_or(3), noise, rng),
        DataKind::Inline | DataKind::Csv | DataKind::Mnist => {
            return Err(place.key("kind", "internal: this kind is not a generator"));
        }
    })
}

/// The notes' draw order: every x1, then every x2, then every noise term.
fn linear(d: &DataSpec, rng: &mut StreamRng) -> Dataset {
    let n = d.n.unwrap_or(100);
    let [lo, hi] = d.range.unwrap_or([0.0, 10.0]);
    let coef = d.coefficients.clone().unwrap_or_default();
    let k = coef.len();
    let columns: Vec<Vec<f64>> = (0..k).map(|_| (0..n).map(|_| uniform(rng, lo, hi)).collect()).collect();
    let eps: Vec<f64> = (0..n).map(|_| d.noise.unwrap_or(0.0) * normal(rng)).collect();
    let mut inputs = Vec::with_capacity(n * k);
    let mut targets = Vec::with_capacity(n);
    for i in 0..n {
        let mut y = d.intercept.unwrap_or(0.0) + eps[i];
        for j in 0..k {
            inputs.push(columns[j][i]);
            y += coef[j] * columns[j][i];
        }
        targets.push(y);
    }
    Dataset {
        inputs: inputs.into(),
        features: k,
        feature_names: (1..=k).map(|j| format!("x{j}")).collect(),
        targets,
        target_cols: 1,
        target_names: vec!["y".into()],
        classes: None,
        shape: Vec::new(),
    }
}

fn gates(gate: Gate) -> Dataset {
    let mut inputs = Vec::new();
    let mut labels = Vec::new();
    for (a, b) in [(false, false), (false, true), (true, false), (true, true)] {
        let y = match gate {
            Gate::And => a && b,
            Gate::Or => a || b,
            Gate::Nand => !(a && b),
            Gate::Nor => !(a || b),
            Gate::Xor => a != b,
            Gate::Xnor => a == b,
        };
        inputs.extend([f64::from(u8::from(a)), f64::from(u8::from(b))]);
        labels.push(f64::from(u8::from(y)));
    }
    classified(inputs, labels, 2)
}

/// k interleaved arms (the CS231n construction), n points in all.
fn spirals(n: usize, k: usize, noise: f64, rng: &mut StreamRng) -> Dataset {
    let per = n / k.max(1);
    let mut inputs = Vec::with_capacity(2 * per * k);
    let mut labels = Vec::with_capacity(per * k);
    for class in 0..k {
        for i in 0..per {
            let r = i as f64 / per as f64;
            let t = class as f64 * std::f64::consts::TAU / k as f64 + 4.0 * r + noise * normal(rng);
            inputs.extend([r * t.sin(), r * t.cos()]);
            labels.push(class as f64);
        }
    }
    classified(inputs, labels, k)
}

/// Two interleaving half circles (scikit-learn's construction) with Gaussian jitter.
fn moons(n: usize, noise: f64, rng: &mut StreamRng) -> Dataset {
    let outer = n / 2;
    let inner = n - outer;
    let mut inputs = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    let step = |count: usize, i: usize| std::f64::consts::PI * i as f64 / (count.max(2) - 1) as f64;
    for i in 0..outer {
        let t = step(outer, i);
        inputs.extend([t.cos(), t.sin()]);
        labels.push(0.0);
    }
    for i in 0..inner {
        let t = step(inner, i);
        inputs.extend([1.0 - t.cos(), 0.5 - t.sin()]);
        labels.push(1.0);
    }
    for v in inputs.iter_mut() {
        *v += noise * normal(rng);
    }
    classified(inputs, labels, 2)
}

/// k Gaussian clusters with centres uniform in [-5, 5]².
fn blobs(n: usize, k: usize, std: f64, rng: &mut StreamRng) -> Dataset {
    let centres: Vec<(f64, f64)> = (0..k).map(|_| (uniform(rng, -5.0, 5.0), uniform(rng, -5.0, 5.0))).collect();
    let mut inputs = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % k;
        inputs.extend([centres[c].0 + std * normal(rng), centres[c].1 + std * normal(rng)]);
        labels.push(c as f64);
    }
    classified(inputs, labels, k)
}

/// The spec's own rows (each row was checked for length and finite values when
/// parsed); here the checks that need both matrices.
pub fn inline(d: &DataSpec, place: &Place) -> Result<Dataset> {
    let rows = d.inputs.as_deref().unwrap_or_default();
    let features = rows.first().map(Vec::len).unwrap_or(0);
    if rows.is_empty() || features == 0 {
        return Err(place.key("inputs", "`inputs` is empty"));
    }
    let targets = d.targets.as_deref().unwrap_or_default();
    let target_cols = targets.first().map(Vec::len).unwrap_or(0);
    if d.targets.is_some() && targets.len() != rows.len() {
        return Err(place.key(
            "targets",
            format!(
                "`targets` has {} rows but `inputs` has {}; give one target row per input row",
                targets.len(),
                rows.len()
            ),
        ));
    }
    if let Some(k) = d.classes {
        if target_cols > 1 {
            return Err(place.key(
                "classes",
                format!("with `classes`, targets are one column of class ids; these rows have {target_cols}"),
            ));
        }
        if let Some((i, t)) = super::bad_label(&targets.concat(), k) {
            return Err(place.row(
                "targets",
                i,
                format!("`targets` row {i} is {t}; with {k} classes a label is a whole number from 0 to {}", k - 1),
            ));
        }
    }
    Ok(Dataset {
        inputs: rows.concat().into(),
        features,
        feature_names: (1..=features).map(|j| format!("x{j}")).collect(),
        targets: targets.concat(),
        target_cols,
        target_names: (1..=target_cols).map(|j| format!("y{j}")).collect(),
        classes: d.classes,
        shape: Vec::new(),
    })
}
