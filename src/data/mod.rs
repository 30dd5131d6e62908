//! Data sets: generators, inline matrices and CSV files, a seeded train/test split,
//! and batching. Values are f64 on the host (images: bytes read as f64, see `inputs`);
//! training uploads batches.

pub mod augment;
mod csv_file;
mod generators;
pub mod idx;
mod inputs;
mod mnist;

use crate::error::{Error, Result, Source};
use crate::rng;
use crate::spec::{BiasColumn, DataKind, DataSpec, Normalize};
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

pub use inputs::Inputs;

/// Row-major samples: `inputs` is n×features, `targets` n×target_cols.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub inputs: Inputs,
    pub features: usize,
    pub feature_names: Vec<String>,
    pub targets: Vec<f64>,
    pub target_cols: usize,
    pub target_names: Vec<String>,
    /// Number of classes for a classification set; targets are then one column of ids.
    pub classes: Option<usize>,
    /// The shape of one sample, e.g. [1, 28, 28] for an image; empty means [features].
    pub shape: Vec<usize>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.inputs.len().checked_div(self.features).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn sample_shape(&self) -> Vec<usize> {
        if self.shape.is_empty() {
            vec![self.features]
        } else {
            self.shape.clone()
        }
    }

    /// Sample `i`'s values (borrowed for f64 data, expanded for bytes).
    pub fn input_row(&self, i: usize) -> std::borrow::Cow<'_, [f64]> {
        self.inputs.slice(i * self.features..(i + 1) * self.features)
    }

    /// Feature `j` of sample `i`.
    pub fn input(&self, i: usize, j: usize) -> f64 {
        self.inputs[i * self.features + j]
    }

    /// `f` applied to the inputs in runs of at most `rows` samples (as f64), its
    /// results concatenated: a pass over a whole split that never expands a byte-held
    /// split at once. f64-held inputs go in one run (they are already expanded).
    pub fn map_row_runs<R>(&self, rows: usize, mut f: impl FnMut(&[f64]) -> Vec<R>) -> Vec<R> {
        if let Inputs::Values(v) = &self.inputs {
            return f(v);
        }
        let mut out = Vec::new();
        let n = self.len();
        let mut start = 0;
        while start < n {
            let end = n.min(start + rows.max(1));
            out.extend(f(&self.inputs.slice(start * self.features..end * self.features)));
            start = end;
        }
        out
    }

    /// The inputs of samples `rows`, in that order, as f64 (a batch).
    pub fn input_rows(&self, rows: &[usize]) -> Vec<f64> {
        let mut out = Vec::with_capacity(rows.len() * self.features);
        for &i in rows {
            self.inputs.extend_into(i * self.features..(i + 1) * self.features, &mut out, |v| v);
        }
        out
    }

    pub fn target_row(&self, i: usize) -> &[f64] {
        &self.targets[i * self.target_cols..(i + 1) * self.target_cols]
    }

    /// The rows at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Dataset {
        let mut out = Dataset {
            inputs: self.inputs.select_rows(idx, self.features),
            features: self.features,
            feature_names: self.feature_names.clone(),
            targets: Vec::with_capacity(idx.len() * self.target_cols),
            target_cols: self.target_cols,
            target_names: self.target_names.clone(),
            classes: self.classes,
            shape: self.shape.clone(),
        };
        for &i in idx {
            out.targets.extend_from_slice(self.target_row(i));
        }
        out
    }

    /// The targets of samples `idx` alone (no inputs), for a batch's target matrix.
    pub fn target_rows(&self, idx: &[usize]) -> Dataset {
        let mut targets = Vec::with_capacity(idx.len() * self.target_cols);
        for &i in idx {
            targets.extend_from_slice(self.target_row(i));
        }
        Dataset {
            inputs: Inputs::default(),
            features: self.features,
            feature_names: Vec::new(),
            targets,
            target_cols: self.target_cols,
            target_names: Vec::new(),
            classes: self.classes,
            shape: Vec::new(),
        }
    }

    /// Targets as the model's output expects them: class ids become one-hot rows when
    /// the output has one unit per class.
    pub fn target_matrix(&self, out_width: usize) -> Vec<f64> {
        match self.classes {
            Some(k) if self.target_cols == 1 && out_width == k && k > 1 => {
                let mut m = vec![0.0; self.targets.len() * k];
                for (i, t) in self.targets.iter().enumerate() {
                    m[i * k + *t as usize] = 1.0;
                }
                m
            }
            _ => self.targets.clone(),
        }
    }

    fn add_bias_column(&mut self, at: BiasColumn) {
        let n = self.len();
        let f = self.features;
        let mut inputs = Vec::with_capacity(n * (f + 1));
        let old = self.inputs.values();
        for i in 0..n {
            let row = &old[i * f..(i + 1) * f];
            match at {
                BiasColumn::First => {
                    inputs.push(1.0);
                    inputs.extend_from_slice(row);
                }
                BiasColumn::Last => {
                    inputs.extend_from_slice(row);
                    inputs.push(1.0);
                }
            }
        }
        drop(old);
        self.inputs = inputs.into();
        self.features += 1;
        match at {
            BiasColumn::First => self.feature_names.insert(0, "bias".into()),
            BiasColumn::Last => self.feature_names.push("bias".into()),
        }
    }
}

/// The training split and, when `test_fraction` > 0, the test split.
#[derive(Debug, Clone)]
pub struct Splits {
    pub train: Dataset,
    pub validation: Option<Dataset>,
    pub test: Option<Dataset>,
    /// How the inputs relate to the raw values the data came as (pixels, for images).
    pub scale: InputScale,
}

/// The model sees (raw − mean)/std. Probes that perturb inputs (an attack's epsilon,
/// an occlusion's baseline) state their numbers in raw units and convert here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputScale {
    pub mean: f64,
    pub std: f64,
    /// The range raw values must stay in (pixels: [0, 1]); None where any value goes.
    pub valid: Option<(f64, f64)>,
}

impl Default for InputScale {
    fn default() -> Self {
        InputScale { mean: 0.0, std: 1.0, valid: None }
    }
}

impl InputScale {
    /// The model's input for a raw value.
    pub fn to_model(&self, raw: f64) -> f64 {
        (raw - self.mean) / self.std
    }
    /// The raw value of a model input.
    pub fn to_raw(&self, model: f64) -> f64 {
        model * self.std + self.mean
    }
}

impl Splits {
    pub fn get(&self, s: crate::spec::Split) -> Option<&Dataset> {
        use crate::spec::Split;
        match s {
            Split::Train => Some(&self.train),
            Split::Validation => self.validation.as_ref(),
            Split::Test => self.test.as_ref(),
            Split::Batch => None,
        }
    }

    /// The splits the data has, in order.
    pub fn present(&self) -> Vec<crate::spec::Split> {
        use crate::spec::Split;
        [Split::Train, Split::Validation, Split::Test].into_iter().filter(|s| self.get(*s).is_some()).collect()
    }
}

/// The CSV file a spec names, and its data rows (counted, not read), for sizing.
pub use csv_file::{count_rows as csv_rows, path_of as csv_path};
/// The headers of an MNIST-format folder's two images files, for sizing.
pub use mnist::image_headers as mnist_headers;

/// Fills in every default a generator uses, so the resolved spec shows them.
pub fn resolve_defaults(d: &DataSpec) -> DataSpec {
    generators::with_defaults(d)
}

/// Where a problem with the data is reported: at a `[data]` key (or one of its rows)
/// in the spec, falling back to the `[data]` table when the key is not in the text.
pub struct Place<'a> {
    pub source: &'a Source,
    pub span: Range<usize>,
}

impl Place<'_> {
    pub fn of<'s>(data: &Spanned<DataSpec>, source: &'s Source) -> Place<'s> {
        Place { source, span: data.span() }
    }

    /// The key as the spec and its `--set`s left it: a value a `--set` gave is blamed
    /// on that argument, not on the line it replaced.
    pub fn key(&self, key: &str, message: impl Into<String>) -> Error {
        let span = crate::spec::data_span(self.source, key, None).unwrap_or(self.span.clone());
        self.source.error(Some(span), message).into()
    }

    pub fn row(&self, key: &str, row: usize, message: impl Into<String>) -> Error {
        match crate::spec::data_span(self.source, key, Some(row)) {
            Some(span) => self.source.error(Some(span), message).into(),
            None => self.key(key, message),
        }
    }
}

/// Builds the data set a spec describes, splits it and normalises it. `base_dir`
/// resolves relative paths; errors about values in the spec point at their key.
pub fn load(
    data: &Spanned<DataSpec>,
    source: &Source,
    seed: u64,
    base_dir: &Path,
    dtype: crate::backend::DType,
) -> Result<Splits> {
    let place = Place::of(data, source);
    let d = resolve_defaults(data.get_ref());
    if d.test_fraction + d.validation_fraction >= 1.0 {
        return Err(place.key(
            "validation_fraction",
            format!(
                "test_fraction ({}) and validation_fraction ({}) together hold out everything",
                d.test_fraction, d.validation_fraction
            ),
        ));
    }
    let mut splits = split(&d, &place, seed, base_dir)?;
    let precision = if dtype == crate::backend::DType::F32 { "f32" } else { "f64" };
    for (targets, keys) in [(false, ["range", "noise", "radius"]), (true, ["coefficients", "intercept", "noise"])] {
        if let Some(v) = first_too_large(&splits, targets, dtype) {
            // Finite settings can still overflow: range = [-1e308, 1e308] spans infinity.
            let given: Vec<&str> =
                keys.into_iter().filter(|k| crate::spec::data_span(source, k, None).is_some()).collect();
            let what = if targets { "targets" } else { "inputs" };
            // Given data (a row of 1e300) names its own key: no setting made it.
            let own = match d.kind {
                None | Some(DataKind::Inline) => Some(what),
                Some(DataKind::Csv) => Some("path"),
                _ => None,
            };
            if let Some(key) = own {
                return Err(place.key(
                    key,
                    format!(
                        "the {what} hold {}: too large for {precision} arithmetic (its square overflows)",
                        crate::spec::show(v)
                    ),
                ));
            }
            let key = given.first().copied().unwrap_or("kind");
            let named = given.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" or ");
            return Err(place.key(
                key,
                format!(
                    "the generated {what} hold {}: {named} is too large for {precision} arithmetic",
                    crate::spec::show(v)
                ),
            ));
        }
    }
    check(&splits.train)?;
    if d.validation_fraction > 0.0 {
        let (rest, held) = hold_out(&splits.train, d.validation_fraction, seed, "validation")
            .map_err(|m| place.key("validation_fraction", m))?;
        splits.train = rest;
        splits.validation = Some(held);
    }
    if let Some(norm) = d.normalize {
        let (mean, std) = match norm {
            Normalize::Given { mean, std } => (mean, std),
            Normalize::FromSplit(_) => mean_std(&splits.train.inputs),
        };
        if !mean.is_finite() || !std.is_finite() || std <= 0.0 {
            let m = match norm {
                Normalize::Given { .. } => {
                    format!("normalize needs a finite mean and a positive, finite std, found mean {mean}, std {std}")
                }
                Normalize::FromSplit(_) => format!(
                    "normalize: the training inputs have mean {mean} and std {std}; they cannot be normalised (constant inputs?)"
                ),
            };
            return Err(place.key("normalize", m));
        }
        splits.scale.mean = mean;
        splits.scale.std = std;
        for set in std::iter::once(&mut splits.train).chain(splits.validation.as_mut()).chain(splits.test.as_mut()) {
            set.inputs.map_in_place(|v| (v - mean) / std);
        }
        if let Some(v) = first_too_large(&splits, false, dtype) {
            return Err(place.key(
                "normalize",
                format!(
                    "normalizing with mean {} and std {} makes a value {}",
                    crate::spec::show(mean),
                    crate::spec::show(std),
                    crate::spec::show(v)
                ),
            ));
        }
    }
    // The constant-1 column comes after normalising, which would otherwise shift it (and
    // count it in the mean and std of the real inputs).
    if let Some(at) = d.bias_column.filter(|_| d.kind != Some(DataKind::Mnist)) {
        for set in std::iter::once(&mut splits.train).chain(splits.validation.as_mut()).chain(splits.test.as_mut()) {
            set.add_bias_column(at);
        }
    }
    Ok(splits)
}

/// The first NaN or infinity among every split's inputs (or targets).
/// The first value the run's arithmetic cannot train on: infinite, or so large that its
/// square, and so the first loss, overflows to inf (beyond 1.8e19 in f32, 1e150 in f64),
/// which would surface as a divergence at step 0 instead of an error at its setting.
fn first_too_large(splits: &Splits, targets: bool, dtype: crate::backend::DType) -> Option<f64> {
    let largest = match dtype {
        crate::backend::DType::F32 => f64::from(f32::MAX).sqrt(),
        crate::backend::DType::F64 => 1e150,
    };
    let sets = std::iter::once(&splits.train).chain(splits.validation.as_ref()).chain(splits.test.as_ref());
    let bad = |v: &f64| v.is_nan() || v.abs() > largest;
    if targets {
        sets.flat_map(|s| &s.targets).copied().find(bad)
    } else {
        sets.flat_map(|s| s.inputs.iter()).find(bad)
    }
}

/// A data set the rest can rely on: samples with at least one feature.
fn check(d: &Dataset) -> Result<()> {
    if d.features == 0 || d.is_empty() {
        return Err(Error::Data(format!(
            "[data] has {} samples of {} features; it needs at least one of each",
            d.len(),
            d.features
        )));
    }
    Ok(())
}

/// The first target that is not a class id below `classes`: (row, value).
pub(crate) fn bad_label(targets: &[f64], classes: usize) -> Option<(usize, f64)> {
    targets
        .iter()
        .enumerate()
        .find(|(_, t)| !(t.fract() == 0.0 && **t >= 0.0 && **t < classes as f64))
        .map(|(i, t)| (i, *t))
}

/// Mean and standard deviation over every value, summed in order.
fn mean_std(xs: &Inputs) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn split(d: &DataSpec, place: &Place, seed: u64, base_dir: &Path) -> Result<Splits> {
    let data = match d.kind.unwrap_or(DataKind::Inline) {
        DataKind::Mnist => return mnist::read(d, place, base_dir),
        DataKind::Csv => csv_file::read(d, base_dir)?,
        DataKind::Inline => generators::inline(d, place)?,
        _ => generators::generate(d, place, &mut rng::stream(seed, "data"))?,
    };
    if d.test_fraction <= 0.0 {
        return Ok(Splits { train: data, validation: None, test: None, scale: InputScale::default() });
    }
    let (train, test) = hold_out(&data, d.test_fraction, seed, "split").map_err(|m| place.key("test_fraction", m))?;
    Ok(Splits { train, validation: None, test: Some(test), scale: InputScale::default() })
}

/// A seeded random `fraction` of `data` held out: (the rest, the held-out part).
fn hold_out(data: &Dataset, fraction: f64, seed: u64, stream: &str) -> Result<(Dataset, Dataset), String> {
    let n = data.len();
    let held = ((n as f64) * fraction).round() as usize;
    if held == 0 || held >= n {
        return Err(format!(
            "holding out {fraction} of {n} samples leaves an empty split ({held} held out, {} kept)",
            n.saturating_sub(held)
        ));
    }
    let order = rng::permutation(&mut rng::stream(seed, stream), n);
    let (held_idx, rest_idx) = order.split_at(held);
    Ok((data.select(rest_idx), data.select(held_idx)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::DataSpec;

    fn inline(normalize: Option<Normalize>) -> Splits {
        inline_with(normalize, None)
    }

    fn inline_with(normalize: Option<Normalize>, bias_column: Option<BiasColumn>) -> Splits {
        let d = DataSpec {
            kind: Some(DataKind::Inline),
            inputs: Some(vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0], vec![7.0, 8.0]]),
            normalize,
            bias_column,
            ..Default::default()
        };
        let source = Source::new("t.toml", String::new());
        load(&Spanned::new(0..0, d), &source, 1, Path::new("."), crate::backend::DType::F64).unwrap()
    }

    #[test]
    fn normalisation_from_the_training_split_and_given() {
        let s = inline(Some(Normalize::FromSplit(crate::spec::NormalizeFrom::Train)));
        let (mean, std) = mean_std(&s.train.inputs);
        assert!(mean.abs() < 1e-12 && (std - 1.0).abs() < 1e-12, "mean {mean} std {std}");
        let s = inline(Some(Normalize::Given { mean: 1.0, std: 2.0 }));
        assert_eq!(*s.train.inputs.values(), [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]);
    }

    #[test]
    fn the_bias_column_stays_one_and_out_of_the_normalisation() {
        let s = inline_with(Some(Normalize::FromSplit(crate::spec::NormalizeFrom::Train)), Some(BiasColumn::Last));
        assert_eq!((s.scale.mean, s.scale.std), (4.5, 5.25f64.sqrt()), "the real inputs' mean and std");
        let v = s.train.inputs.values();
        assert_eq!(s.train.features, 3);
        assert!(v.chunks(3).all(|row| row[2] == 1.0), "{v:?}");
        let s = inline_with(Some(Normalize::Given { mean: 1.0, std: 2.0 }), Some(BiasColumn::First));
        assert_eq!(*s.train.inputs.values(), [1.0, 0.0, 0.5, 1.0, 1.0, 1.5, 1.0, 2.0, 2.5, 1.0, 3.0, 3.5]);
    }
}
