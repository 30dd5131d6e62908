//! A CSV file with a header row; features and targets are picked by column name.

use super::Dataset;
use crate::error::{Error, Result};
use crate::spec::DataSpec;
use std::path::Path;

pub fn read(d: &DataSpec, base_dir: &Path) -> Result<Dataset> {
    let rel = d.path.clone().unwrap_or_default();
    let path = base_dir.join(&rel);
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(file);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::Data(format!("{}: cannot read the header row: {e}", path.display())))?
        .iter()
        .map(String::from)
        .collect();
    let column = |name: &String| -> Result<usize> {
        header.iter().position(|h| h == name).ok_or_else(|| {
            let hint = crate::spec::suggest(name, header.iter().map(String::as_str))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            Error::Data(format!("{}: no column `{name}` (columns: {}){hint}", path.display(), header.join(", ")))
        })
    };
    let features = d.feature_columns.clone().unwrap_or_default();
    let targets = d.target_columns.clone().unwrap_or_default();
    let fcols: Vec<usize> = features.iter().map(column).collect::<Result<_>>()?;
    let tcols: Vec<usize> = targets.iter().map(column).collect::<Result<_>>()?;
    let mut data = Dataset {
        inputs: Vec::new(),
        features: fcols.len(),
        feature_names: features.clone(),
        targets: Vec::new(),
        target_cols: tcols.len(),
        target_names: targets.clone(),
        classes: d.classes,
        shape: Vec::new(),
    };
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| Error::Data(format!("{}:{line}: {e}", path.display())))?;
        let value = |c: usize, name: &str| -> Result<f64> {
            let cell = record.get(c).unwrap_or("");
            cell.parse::<f64>().map_err(|_| {
                Error::Data(format!("{}:{line}: column `{name}` holds `{cell}`, not a number", path.display()))
            })
        };
        for (c, name) in fcols.iter().zip(&features) {
            data.inputs.push(value(*c, name)?);
        }
        for (c, name) in tcols.iter().zip(&targets) {
            data.targets.push(value(*c, name)?);
        }
    }
    if data.is_empty() {
        return Err(Error::Data(format!("{}: no data rows", path.display())));
    }
    Ok(data)
}
