//! Runs a prepared experiment in one dtype on the CPU backend and writes its files.

use super::{outputs, Prepared, RunSummary};
use crate::backend::{Backend, CpuBackend, CpuKernels, Element, LossKernel};
use crate::error::{Error, Result};
use crate::graph::NodeOp;
use crate::layers::Model;
use crate::results::{RunDir, UtcTime};
use crate::spec::{Solver, Split};
use crate::train::{self, History, LossPlan, Plan, Recording};
use std::path::Path;

pub struct Executed {
    pub summary: RunSummary,
    pub diverged: Option<(usize, f64)>,
}

pub fn execute<T: CpuKernels>(
    p: &Prepared,
    dir: &RunDir,
    spec_path: &Path,
    started: UtcTime,
    progress: &mut dyn FnMut(usize, usize, f64),
) -> Result<Executed> {
    let be = CpuBackend::new();
    let spec = &p.loaded.spec;
    let mut model = Model::<T, CpuBackend>::new(p.dag.clone(), &be, spec.seed, p.initial.as_ref());
    let splits: Vec<Split> = spec.metrics.splits.clone().unwrap_or_else(|| p.data.present());
    // Step records by default when training by iterations, epoch records when by epochs.
    let by_epochs = spec.train.as_ref().is_some_and(|t| t.get_ref().epochs.is_some());
    let recording = Recording {
        metrics: &spec.metrics.record,
        splits: &splits,
        every: spec.metrics.every.or((!by_epochs).then_some(1)),
        per_epoch: spec.metrics.per_epoch.unwrap_or(by_epochs),
        batch_every: spec.metrics.batch_every,
        params: spec.output.params,
    };
    // Fixed-weight models are scored only when their output lines up with the targets.
    let out = &model.dag.nodes[model.dag.output];
    let has_targets = p.data.train.target_cols > 0
        && out.batched
        && p.data.train.target_matrix(out.width()).len() == p.data.train.len() * out.width();
    let history: Option<History> = match &spec.train {
        Some(t) if t.get_ref().solver == Some(Solver::Lstsq) => {
            fit_least_squares(&be, &mut model, &p.data.train).map_err(Error::Data)?;
            let loss = LossPlan::new(t.get_ref(), &model.dag);
            Some(train::score_once(&be, &model, &p.data, &recording, &loss))
        }
        Some(t) => {
            // All-zero augmentation (`augment = {}`) is no augmentation.
            let augment = spec.data.get_ref().augment.filter(|a| a.shift > 0.0 || a.rotate > 0.0 || a.scale > 0.0);
            let plan = Plan { train: t.get_ref(), recording, seed: spec.seed, augment };
            Some(train::train(&be, &mut model, &p.data, &plan, &mut *progress))
        }
        // Fixed weights: score once (the loss column is then the mean squared error).
        None if has_targets => {
            let loss = LossPlan { kernel: LossKernel::SquaredError, reads: model.dag.output, sum: false, scale: 1.0 };
            Some(train::score_once(&be, &model, &p.data, &recording, &loss))
        }
        None => None,
    };
    outputs::write_all(&be, &model, p, history.as_ref(), dir, spec_path, started)
}

/// θ = X⁺Y for a single dense layer, in f64 whatever the run's dtype.
fn fit_least_squares<T: Element, B: Backend<T>>(
    be: &B,
    model: &mut Model<T, B>,
    d: &crate::data::Dataset,
) -> std::result::Result<(), String> {
    let NodeOp::Dense { units, bias } = model.dag.nodes[1].op else {
        return Err("lstsq fits a single dense layer".into());
    };
    let n = d.len();
    let f = d.features;
    let p = f + usize::from(bias);
    let mut x = Vec::with_capacity(n * p);
    for i in 0..n {
        x.extend_from_slice(d.input_row(i));
        if bias {
            x.push(1.0);
        }
    }
    let theta = crate::optim::least_squares(&x, n, p, &d.target_matrix(units), units)?;
    // θ is p×units; the layer stores its weight as units×f and its bias apart.
    let mut weight = vec![T::zero(); units * f];
    for i in 0..f {
        for o in 0..units {
            weight[o * f + i] = T::from_f64(theta[i * units + o]);
        }
    }
    model.params[1][0] = be.upload(&weight);
    if bias {
        let b: Vec<T> = (0..units).map(|o| T::from_f64(theta[f * units + o])).collect();
        model.params[1][1] = be.upload(&b);
    }
    Ok(())
}
