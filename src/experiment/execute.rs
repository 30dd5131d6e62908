//! Runs a prepared experiment in one dtype on the CPU backend and writes its files.

use super::{outputs, Prepared, RunOptions, RunSummary};
use crate::backend::{Backend, CpuBackend, CpuKernels, Element, LossKernel};
use crate::error::{Error, Result};
use crate::graph::NodeOp;
use crate::layers::Model;
use crate::results::{element_names, MetricsStream, ParamsStream, RunDir, UtcTime};
use crate::spec::{Solver, Split};
use crate::train::{self, Interrupt, LossPlan, Observer, Plan, Record, Recording};

/// One run being executed: what was prepared, where it goes, and how it was asked for.
pub struct RunContext<'a> {
    pub p: &'a Prepared,
    pub dir: &'a RunDir,
    pub opts: &'a RunOptions,
    pub started: UtcTime,
}

pub struct Executed {
    pub summary: RunSummary,
    pub diverged: Option<(usize, f64)>,
}

/// Streams every record to metrics.csv (and parameter paths to params.csv), passes
/// progress on, and relays a stop request.
struct RunObserver<'a> {
    metrics: MetricsStream,
    params: Option<ParamsStream>,
    interrupt: &'a Interrupt,
    progress: &'a mut dyn FnMut(usize, usize, f64),
}

impl Observer for RunObserver<'_> {
    fn record(&mut self, record: &Record) {
        self.metrics.push(record);
    }
    fn params(&mut self, step: usize, values: &[f64]) {
        if let Some(p) = &mut self.params {
            p.push(step, values);
        }
    }
    fn progress(&mut self, step: usize, total: usize, loss: f64) {
        (self.progress)(step, total, loss);
    }
    fn stop_requested(&self) -> bool {
        self.interrupt.requested()
    }
}

impl RunObserver<'_> {
    /// Writes what is pending; the names of the files written.
    fn finish(self) -> Result<Vec<String>> {
        self.metrics.finish()?;
        let mut names = vec!["metrics.csv".to_string()];
        if let Some(p) = self.params {
            p.finish()?;
            names.push("params.csv".into());
        }
        Ok(names)
    }
}

pub fn execute<T: CpuKernels>(ctx: &RunContext, progress: &mut dyn FnMut(usize, usize, f64)) -> Result<Executed> {
    let p = ctx.p;
    let be = CpuBackend::new();
    let spec = &p.loaded.spec;
    let resolved = toml::to_string(spec).map_err(|e| Error::Data(format!("cannot write the resolved spec: {e}")))?;
    ctx.dir.write("spec.toml", resolved.as_bytes())?;
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
    if spec.train.is_none() && !has_targets {
        return outputs::write_all(ctx, &be, &model, None, vec![]);
    }
    let param_names: Vec<String> =
        model.named_params().iter().flat_map(|(n, shape, _)| element_names(n, shape)).collect();
    let params = match spec.output.params {
        true => Some(ParamsStream::create(&ctx.dir.path_of("params.csv"), &param_names)?),
        false => None,
    };
    let mut observer = RunObserver {
        metrics: MetricsStream::create(&ctx.dir.path_of("metrics.csv"), &spec.metrics.record)?,
        params,
        interrupt: &ctx.opts.interrupt,
        progress,
    };
    let history = match &spec.train {
        Some(t) if t.get_ref().solver == Some(Solver::Lstsq) => {
            fit_least_squares(&be, &mut model, &p.data.train).map_err(Error::Data)?;
            let loss = LossPlan::new(t.get_ref(), &model.dag);
            train::score_once(&be, &model, &p.data, &recording, &loss, &mut observer)
        }
        Some(t) => {
            // All-zero augmentation (`augment = {}`) is no augmentation.
            let augment = spec.data.get_ref().augment.filter(|a| a.shift > 0.0 || a.rotate > 0.0 || a.scale > 0.0);
            let plan = Plan { train: t.get_ref(), recording, seed: spec.seed, augment };
            train::train(&be, &mut model, &p.data, &plan, &mut observer)
        }
        // Fixed weights: score once (the loss column is then the mean squared error).
        None => {
            let loss = LossPlan { kernel: LossKernel::SquaredError, reads: model.dag.output, sum: false, scale: 1.0 };
            train::score_once(&be, &model, &p.data, &recording, &loss, &mut observer)
        }
    };
    let streamed = observer.finish()?;
    outputs::write_all(ctx, &be, &model, Some(&history), streamed)
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
