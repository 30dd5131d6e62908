//! MNIST-format data: a folder in the standard layout (`train-images-idx3-ubyte[.gz]`,
//! `train-labels-idx1-ubyte[.gz]`, `t10k-…`), so full MNIST or Fashion-MNIST work too.
//! Pixels are scaled to [0, 1].

use super::{idx, Dataset, Splits};
use crate::error::{Error, Result};
use crate::spec::DataSpec;
use std::path::Path;

pub fn read(d: &DataSpec, base_dir: &Path) -> Result<Splits> {
    let dir = base_dir.join(d.path.as_deref().unwrap_or("."));
    if !dir.is_dir() {
        return Err(Error::Data(format!("{}: no such folder (the MNIST files' folder)", dir.display())));
    }
    let train = pair(&dir, "train", d.n)?;
    let test = pair(&dir, "t10k", d.test_n)?;
    if train.shape != test.shape {
        return Err(Error::Data(format!(
            "{}: training images are {:?} but test images are {:?}",
            dir.display(),
            train.shape,
            test.shape
        )));
    }
    Ok(Splits { train, validation: None, test: Some(test) })
}

/// Images and labels of one split, the first `limit` of them when given.
fn pair(dir: &Path, prefix: &str, limit: Option<usize>) -> Result<Dataset> {
    let images_path = idx::locate(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = idx::locate(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = idx::read(&images_path)?;
    let labels = idx::read(&labels_path)?;
    let [n, h, w] = images.dims[..] else {
        return Err(Error::Data(format!(
            "{}: expected 3 dimensions (count, rows, cols), found {:?}",
            images_path.display(),
            images.dims
        )));
    };
    if labels.dims.len() != 1 {
        return Err(Error::Data(format!(
            "{}: expected 1 dimension (count), found {:?}",
            labels_path.display(),
            labels.dims
        )));
    }
    if labels.dims[0] != n {
        return Err(Error::Data(format!(
            "{} holds {n} images but {} holds {} labels",
            images_path.display(),
            labels_path.display(),
            labels.dims[0]
        )));
    }
    let keep = limit.unwrap_or(n).min(n);
    if keep == 0 {
        return Err(Error::Data(format!("{}: no images to use", images_path.display())));
    }
    let classes = labels.values.iter().take(keep).max().map(|m| (*m as usize + 1).max(10)).unwrap_or(10);
    Ok(Dataset {
        inputs: images.values[..keep * h * w].iter().map(|v| f64::from(*v) / 255.0).collect(),
        features: h * w,
        feature_names: Vec::new(),
        targets: labels.values[..keep].iter().map(|v| f64::from(*v)).collect(),
        target_cols: 1,
        target_names: vec!["label".into()],
        classes: Some(classes),
        shape: vec![1, h, w],
    })
}
