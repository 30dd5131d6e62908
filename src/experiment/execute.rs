//! Runs a prepared experiment in one dtype on a backend (CPU or CUDA) and writes its files.

use super::resume::{restore, Resuming};
use super::{outputs, Prepared, RunOptions, RunSummary};
use crate::backend::cuda::CudaBackend;
use crate::backend::{Backend, CpuBackend, CpuKernels, Element};
use crate::error::{Error, Result};
use crate::graph::NodeOp;
use crate::layers::Model;
use crate::results::{
    element_names, write_checkpoint, LayersStream, MetricsStream, ParamsStream, ResumeMeta, RunDir, UtcTime,
};
use crate::spec::{Solver, Split};
use crate::train::{
    self, Hook, Interrupt, LayerRow, LoopPosition, LossPlan, Observer, Plan, Record, Recording, Snapshot,
};

/// One run being executed: what was prepared, where it goes, and how it was asked for.
pub struct RunContext<'a> {
    pub p: &'a Prepared,
    /// The backend taken and why (for the manifest).
    pub chosen: &'a super::choice::Chosen,
    pub dir: &'a RunDir,
    pub opts: &'a RunOptions,
    pub started: UtcTime,
    /// The checkpoint a resumed run continues from.
    pub resuming: Option<&'a Resuming>,
}

pub struct Executed {
    pub summary: RunSummary,
    pub diverged: Option<(usize, f64)>,
}

/// Streams every record to metrics.csv (parameter paths to params.csv, hooks' rows to
/// layers.csv), passes progress on, and relays a stop request.
struct RunObserver<'a> {
    metrics: MetricsStream,
    params: Option<ParamsStream>,
    layers: Option<LayersStream>,
    interrupt: &'a Interrupt,
    progress: &'a mut (dyn FnMut(usize, usize, f64) + Send),
    checkpoints: Checkpoints,
    /// Tests only: raise this signal at the top of this step (see [`SIGNAL_AT_VAR`]).
    signal_at: Option<(usize, i32)>,
    /// The step whose top the loop is at, counted by `stop_requested` calls (only
    /// while `signal_at` is set).
    step: std::cell::Cell<usize>,
}

/// `RUNNER_TEST_SIGNAL_AT=<step>:<signal>` makes a run raise that signal (2, 15, 9…)
/// on itself right before step `<step>`: the resume tests stop and kill runs at chosen
/// steps with real signals, which timing alone cannot do at ~2.5 µs per step.
/// `probe<k>:<signal>` raises it right before probe k of a finished run is drawn.
pub const SIGNAL_AT_VAR: &str = "RUNNER_TEST_SIGNAL_AT";

/// The place and signal [`SIGNAL_AT_VAR`] asks for, where its place starts with `prefix`
/// (`""` for a step, `"probe"` for a probe).
fn test_signal(prefix: &str) -> Option<(usize, i32)> {
    let text = std::env::var(SIGNAL_AT_VAR).ok()?;
    let (at, signal) = text.strip_prefix(prefix)?.split_once(':')?;
    Some((at.trim().parse().ok()?, signal.trim().parse().ok()?))
}

fn signal_at() -> Option<(usize, i32)> {
    test_signal("")
}

/// Raises [`SIGNAL_AT_VAR`]'s signal when it names probe `index`.
pub(super) fn signal_before_probe(index: usize) {
    if let Some((at, signal)) = test_signal("probe") {
        if at == index {
            let _ = signal_hook::low_level::raise(signal);
        }
    }
}

/// This attempt of the run, for its compute time: what earlier attempts computed (up to
/// the checkpoint this one goes on from) and when this one began. The time a run lay
/// stopped between attempts is not the run's.
#[derive(Clone, Copy)]
pub(super) struct Segment {
    pub before: f64,
    pub began_unix: f64,
}

impl Segment {
    pub fn of(ctx: &RunContext) -> Segment {
        match ctx.resuming {
            Some(r) => Segment { before: r.compute_before(), began_unix: r.began.unix_seconds },
            None => Segment { before: 0.0, began_unix: ctx.started.unix_seconds },
        }
    }

    /// The run's compute seconds at `now_unix`.
    pub fn seconds_so_far(&self, now_unix: f64) -> f64 {
        self.before + (now_unix - self.began_unix).max(0.0)
    }
}

/// Where resume checkpoints go and what they say besides the loop's snapshot.
struct Checkpoints {
    dir: std::path::PathBuf,
    dtype: crate::backend::DType,
    meta: ResumeMeta,
    segment: Segment,
    written: bool,
    /// The first failure to write one; the run then fails with it.
    error: Option<Error>,
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
    fn layers(&mut self, rows: &[LayerRow]) {
        if let Some(l) = &mut self.layers {
            l.push(rows);
        }
    }
    fn progress(&mut self, step: usize, total: usize, loss: f64) {
        (self.progress)(step, total, loss);
    }
    fn stop_requested(&self) -> bool {
        if let Some((at, signal)) = self.signal_at {
            let step = self.step.get();
            self.step.set(step + 1);
            if step == at {
                let _ = signal_hook::low_level::raise(signal);
            }
        }
        // A checkpoint that cannot be written stops the run (it then fails with why).
        self.interrupt.requested() || self.checkpoints.error.is_some()
    }
    fn wants_checkpoints(&self) -> bool {
        self.checkpoints.error.is_none()
    }
    fn checkpoint(&mut self, snapshot: &Snapshot) {
        let c = &mut self.checkpoints;
        c.meta.position = snapshot.position.clone();
        // The rows so far reach the file first, so its length is where a resume cuts.
        (c.meta.metrics_bytes, c.meta.metrics_sha256) = self.metrics.flushed_len();
        c.meta.compute_seconds = Some(c.segment.seconds_so_far(crate::results::now_utc().unix_seconds));
        c.meta.params_bytes = self.params.as_mut().map(ParamsStream::flushed_len);
        c.meta.layers_bytes = self.layers.as_mut().map(LayersStream::flushed_len);
        match write_checkpoint(&c.dir, &snapshot.tensors, c.dtype, &mut c.meta) {
            Ok(()) => c.written = true,
            Err(e) => c.error = Some(e),
        }
    }
}

impl RunObserver<'_> {
    /// Writes what is pending; the names of the files written.
    fn finish(self) -> Result<Vec<String>> {
        if let Some(e) = self.checkpoints.error {
            return Err(e);
        }
        self.metrics.finish()?;
        let mut names = vec!["metrics.csv".to_string()];
        if let Some(p) = self.params {
            p.finish()?;
            names.push("params.csv".into());
        }
        if let Some(l) = self.layers {
            l.finish()?;
            names.push(LAYERS_FILE.into());
        }
        Ok(names)
    }
}

/// Runs on the CPU backend, on one of rayon's worker threads (`rayon::scope` moves it
/// there from the calling thread). From outside the pool every parallel op was handed
/// to the workers while the caller slept, and both sides paid a wake-up per op; from a
/// worker, the caller takes part and only the other workers are woken. mnist_cnn
/// inference 22.1k → 23.7k images/s (medians of 4 A/B pairs), time in the kernel's
/// scheduler 5.5% → 2% of a training run; results are the same bytes (the split of
/// work never decides a value).
pub fn execute<T: CpuKernels>(
    ctx: &RunContext,
    progress: &mut (dyn FnMut(usize, usize, f64) + Send),
) -> Result<Executed> {
    rayon::scope(|_| execute_on::<T, CpuBackend>(ctx, &CpuBackend::new(), progress))
}

/// Runs on the CUDA backend (one device, made by the caller).
pub fn execute_cuda<T: Element>(
    ctx: &RunContext,
    be: &CudaBackend,
    progress: &mut (dyn FnMut(usize, usize, f64) + Send),
) -> Result<Executed>
where
    CudaBackend: Backend<T>,
{
    execute_on::<T, CudaBackend>(ctx, be, progress)
}

/// The whole run, generic over the backend: nothing below assumes host buffers.
pub(super) fn execute_on<T: Element, B: Backend<T>>(
    ctx: &RunContext,
    be: &B,
    progress: &mut (dyn FnMut(usize, usize, f64) + Send),
) -> Result<Executed> {
    let p = ctx.p;
    let spec = &p.loaded.spec;
    let resolved = toml::to_string(spec).map_err(|e| Error::Data(format!("cannot write the resolved spec: {e}")))?;
    ctx.dir.write("spec.toml", resolved.as_bytes())?;
    let mut model = Model::<T, B>::new(p.dag.clone(), be, spec.seed, p.initial.as_ref());
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
        return outputs::write_all(ctx, be, &model, None, vec![]);
    }
    let param_names: Vec<String> =
        model.named_params().iter().flat_map(|(n, shape, _)| element_names(n, shape)).collect();
    let start = match ctx.resuming {
        Some(r) => Some(restore(be, &mut model, r, &recording, &p.data, &ctx.dir.path_of(""))?),
        None => None,
    };
    let (metrics_path, params_path) = (ctx.dir.path_of("metrics.csv"), ctx.dir.path_of("params.csv"));
    let hooks = resolved_hooks(p);
    let layer_columns = train::layer_columns(&hooks);
    let layers_path = ctx.dir.path_of(LAYERS_FILE);
    let (metrics, params, layers) = match ctx.resuming.map(|r| &r.meta) {
        Some(m) => (
            MetricsStream::reopen(&metrics_path, m.metrics_bytes, T::DTYPE)?,
            m.params_bytes.map(|len| ParamsStream::reopen(&params_path, len, T::DTYPE)).transpose()?,
            m.layers_bytes.map(|len| LayersStream::reopen(&layers_path, len, &layer_columns, T::DTYPE)).transpose()?,
        ),
        None => (
            MetricsStream::create(&metrics_path, &spec.metrics.record, T::DTYPE)?,
            spec.output.params.then(|| ParamsStream::create(&params_path, &param_names, T::DTYPE)).transpose()?,
            (!hooks.is_empty()).then(|| LayersStream::create(&layers_path, &layer_columns, T::DTYPE)).transpose()?,
        ),
    };
    let mut observer = RunObserver {
        metrics,
        params,
        layers,
        interrupt: &ctx.opts.interrupt,
        progress,
        checkpoints: Checkpoints {
            dir: ctx.dir.path_of(""),
            dtype: T::DTYPE,
            meta: checkpoint_meta(ctx, &resolved),
            segment: Segment::of(ctx),
            written: false,
            error: None,
        },
        signal_at: signal_at(),
        step: std::cell::Cell::new(start.as_ref().map_or(0, |s| s.position.step)),
    };
    let history = match &spec.train {
        Some(t) if t.get_ref().solver == Some(Solver::Lstsq) => {
            fit_least_squares(be, &mut model, &p.data.train).map_err(Error::Data)?;
            let loss = LossPlan::new(t.get_ref(), &model.dag);
            train::score_once(be, &model, &p.data, &recording, &loss, &mut observer)
        }
        Some(t) => {
            // All-zero augmentation (`augment = {}`) is no augmentation.
            let augment = spec.data.get_ref().augment.filter(|a| a.shift > 0.0 || a.rotate > 0.0 || a.scale > 0.0);
            let plan = Plan { train: t.get_ref(), recording, seed: spec.seed, augment, hooks };
            train::train_from(be, &mut model, &p.data, &plan, &mut observer, start)
        }
        // Fixed weights: score once (the loss column is then the mean squared error).
        None => {
            let loss = LossPlan::fixed_weights(&model.dag);
            train::score_once(be, &model, &p.data, &recording, &loss, &mut observer)
        }
    };
    let checkpointed = observer.checkpoints.written || ctx.resuming.is_some();
    // The rows recorded before a backend error reach their files; then the run fails.
    let failed = be.check();
    let mut streamed = observer.finish()?;
    failed?;
    // Only a stopped run has a use for its checkpoint.
    if history.interrupted && checkpointed {
        streamed.push(crate::results::RESUME_FILE.into());
    } else {
        ctx.dir.remove_checkpoint()?;
    }
    outputs::write_all(ctx, be, &model, Some(&history), streamed)
}

/// The file `[[hooks]]` stream to.
pub const LAYERS_FILE: &str = "layers.csv";

/// The spec's `[[hooks]]` against the model's graph.
pub(super) fn resolved_hooks(p: &Prepared) -> Vec<Hook> {
    p.loaded.spec.hooks.iter().map(|h| Hook::resolve(h.get_ref(), &p.dag)).collect()
}

/// What every checkpoint of this run says besides the loop's position.
fn checkpoint_meta(ctx: &RunContext, resolved: &str) -> ResumeMeta {
    let (spec_file, resumes) = match ctx.resuming {
        Some(r) => (r.meta.spec_file.clone(), r.meta.resumes.clone()),
        None => (ctx.opts.spec_path.display().to_string(), vec![]),
    };
    ResumeMeta {
        format: 1,
        position: LoopPosition::default(),
        metrics_bytes: 0,
        params_bytes: None,
        layers_bytes: None,
        metrics_sha256: None,
        seed: Some(ctx.p.loaded.spec.seed),
        compute_seconds: None,
        spec_hash: crate::results::spec_hash(resolved),
        dtype: ctx.p.loaded.spec.dtype.name().into(),
        spec_file,
        started_unix: ctx.started.unix_seconds,
        data_files: ctx.p.data_files.clone(),
        resumes,
        tensors_sha256: String::new(),
        meta_sha256: None,
    }
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
        x.extend_from_slice(&d.input_row(i));
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
