//! MNIST-format data: a folder in the standard layout (`train-images-idx3-ubyte[.gz]`,
//! `train-labels-idx1-ubyte[.gz]`, `t10k-…`), so full MNIST or Fashion-MNIST work too.
//! Pixels are scaled to [0, 1].

use super::{idx, Dataset, Place, Splits};
use crate::error::{Error, Result};
use crate::spec::DataSpec;
use std::path::Path;

/// Classes in MNIST-format label files, unless `[data] classes` says otherwise.
pub const CLASSES: usize = 10;

pub fn folder(d: &DataSpec, base_dir: &Path) -> Result<std::path::PathBuf> {
    let dir = base_dir.join(d.path.as_deref().unwrap_or("."));
    if !dir.is_dir() {
        return Err(Error::Data(format!("{}: no such folder (the MNIST files' folder)", dir.display())));
    }
    Ok(dir)
}

/// The images files of both splits, for the memory estimate: (path, header).
pub fn image_headers(d: &DataSpec, base_dir: &Path) -> Result<Vec<(std::path::PathBuf, idx::Header)>> {
    let dir = folder(d, base_dir)?;
    ["train", "t10k"]
        .iter()
        .map(|prefix| {
            let path = idx::locate(&dir, &format!("{prefix}-images-idx3-ubyte"))?;
            let header = idx::header(&path, 3)?;
            Ok((path, header))
        })
        .collect()
}

pub fn read(d: &DataSpec, place: &Place, base_dir: &Path) -> Result<Splits> {
    let dir = folder(d, base_dir)?;
    let classes = d.classes.unwrap_or(CLASSES);
    let train = pair(&dir, "train", d.n, classes).map_err(|e| e.at(place, "n"))?;
    let test = pair(&dir, "t10k", d.test_n, classes).map_err(|e| e.at(place, "test_n"))?;
    if train.shape != test.shape {
        return Err(Error::Data(format!(
            "{}: training images are {:?} but test images are {:?}",
            dir.display(),
            train.shape,
            test.shape
        )));
    }
    // Pixels are bytes / 255: an attack or an occlusion stays within [0, 1].
    let scale = super::InputScale { valid: Some((0.0, 1.0)), ..Default::default() };
    Ok(Splits { train, validation: None, test: Some(test), scale })
}

/// A problem with one split: in its files, or with the spec's count for it.
enum PairError {
    File(Error),
    /// The spec asks for more images than the file holds.
    Count(String),
}

impl From<Error> for PairError {
    fn from(e: Error) -> Self {
        PairError::File(e)
    }
}

impl PairError {
    fn at(self, place: &Place, key: &str) -> Error {
        match self {
            PairError::File(e) => e,
            PairError::Count(m) => place.key(key, m),
        }
    }
}

/// Images and labels of one split, the first `limit` of them when given.
fn pair(dir: &Path, prefix: &str, limit: Option<usize>, classes: usize) -> std::result::Result<Dataset, PairError> {
    let images_path = idx::locate(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = idx::locate(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    // The dimension counts are checked in the headers, before the lengths.
    let images = idx::read(&images_path, 3)?;
    let labels = idx::read(&labels_path, 1)?;
    let [n, h, w] = images.dims[..] else { unreachable!("idx::read checked 3 dimensions") };
    if labels.dims[0] != n {
        return Err(Error::Data(format!(
            "{} holds {n} images but {} holds {} labels",
            images_path.display(),
            labels_path.display(),
            labels.dims[0]
        ))
        .into());
    }
    if n == 0 || h == 0 || w == 0 {
        return Err(Error::Data(format!("{}: holds {n} images of {h}×{w} pixels", images_path.display())).into());
    }
    let keep = match limit {
        Some(k) if k > n => {
            let key = if prefix == "train" { "n" } else { "test_n" };
            return Err(PairError::Count(format!("`{key}` is {k} but {} holds {n} images", images_path.display())));
        }
        Some(k) => k,
        None => n,
    };
    if let Some((i, t)) =
        super::bad_label(&labels.values[..keep].iter().map(|v| f64::from(*v)).collect::<Vec<_>>(), classes)
    {
        return Err(Error::Data(format!(
            "{}: label {i} is {t}; with {classes} classes a label is 0 to {}",
            labels_path.display(),
            classes - 1
        ))
        .into());
    }
    Ok(Dataset {
        inputs: {
            let mut bytes = images.values;
            bytes.truncate(keep * h * w);
            bytes.shrink_to_fit();
            // Read as f64(byte) / 255 on use: the values an eager conversion stored.
            super::Inputs::scaled_bytes(bytes, 255.0)
        },
        features: h * w,
        feature_names: Vec::new(),
        targets: labels.values[..keep].iter().map(|v| f64::from(*v)).collect(),
        target_cols: 1,
        target_names: vec!["label".into()],
        classes: Some(classes),
        shape: vec![1, h, w],
    })
}
