//! Decides what a finished run writes and hands the bytes to the results folder.

use super::execute::{Executed, RunContext};
use super::{Prepared, RunSummary};
use crate::backend::{Backend, Element};
use crate::error::{Error, Result};
use crate::inspect::Inspector;
use crate::layers::Model;
use crate::probes::{self, ProbeContext, ProbeFile};
use crate::results::{self, element_names, now_utc, Columns, Manifest, RunDir};
use crate::spec::{PrintItem, ProbeKind, ProbeSpec, Split};
use crate::train::{self, History};
use std::collections::BTreeMap;
use std::path::Path;

/// Writes everything but the streamed CSVs (`streamed` names those already written
/// beside spec.toml), then the manifest.
pub fn write_all<T: Element, B: Backend<T>>(
    ctx: &RunContext,
    be: &B,
    model: &Model<T, B>,
    history: Option<&History>,
    streamed: Vec<String>,
) -> Result<Executed> {
    let p = ctx.p;
    let dir = ctx.dir;
    let spec = &p.loaded.spec;
    let mut files: Vec<String> = vec!["spec.toml".into()];
    files.extend(streamed);
    let mut write = |name: &str, bytes: &[u8]| -> Result<()> {
        // A file computed on a failed backend holds placeholders: fail instead.
        be.check()?;
        dir.write(name, bytes)?;
        files.push(name.to_string());
        Ok(())
    };
    let param_names: Vec<String> =
        model.named_params().iter().flat_map(|(n, shape, _)| element_names(n, shape)).collect();
    if let Some(c) = class_report(be, model, p) {
        write("confusion.csv", results::confusion_csv(&c).as_bytes())?;
        write("classes.csv", results::classes_csv(&c, T::DTYPE).as_bytes())?;
    }
    if spec.output.predictions {
        write("predictions.csv", predictions_csv(be, model, p).as_bytes())?;
    }
    if !spec.output.gradients.is_empty() {
        write("gradients.csv", gradients_csv(be, model, p).as_bytes())?;
    }
    if spec.output.checkpoint && model.dag.param_count() > 0 {
        let tensors: Vec<(String, Vec<usize>, Vec<u8>)> =
            model.named_params().into_iter().map(|(n, s, b)| (n, s, T::le_bytes(&be.download(b)))).collect();
        write("model.safetensors", &results::safetensors_bytes(&tensors, T::DTYPE).map_err(Error::Data)?)?;
    }
    let items = super::printed::items(p);
    let printed = super::printed::tables(be, model, p, &items);
    if items.contains(&PrintItem::Params) && !spec.output.params && model.dag.param_count() > 0 {
        let params = super::printed::final_params(be, model);
        write(super::printed::PARAMS_FINAL_FILE, super::printed::params_final_csv(&params, T::DTYPE).as_bytes())?;
    }
    // A stop (Ctrl-C, SIGTERM) while the probes are drawn skips the ones not yet begun:
    // the trained run is written whole and `runner probe` draws them later, where
    // waiting through them, or a second signal's exit, would cost the whole run.
    // A run stopped during training draws its probes as before (a second signal ends it).
    let stopped_in_training = ctx.opts.interrupt.requested();
    let stop = |index: usize| {
        super::execute::signal_before_probe(index);
        !stopped_in_training && ctx.opts.interrupt.requested()
    };
    let (probed, skipped) = probe_files(be, model, p, history, &param_names, None, &stop)?;
    for file in probed {
        write(&file.name, &file.bytes)?;
    }
    if !spec.hooks.is_empty() && history.is_some_and(|h| h.steps > 0) {
        // Drawn from the file, so a resumed run's picture is an uninterrupted one's.
        let path = dir.path_of(super::execute::LAYERS_FILE);
        let csv = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let png = crate::plot::layers_figure(&spec.name, &csv).map_err(|m| Error::Data(format!("layers.png: {m}")))?;
        if let Some(png) = png {
            write("layers.png", &png)?;
        }
    }

    let diverged = history.and_then(|h| h.diverged);
    let status = match history {
        _ if diverged.is_some() => "diverged",
        Some(h) if h.interrupted => "interrupted",
        _ => "complete",
    };
    let final_metrics = final_metrics(history, T::DTYPE);
    let steps = history.map(|h| h.steps).unwrap_or(0);
    // The page is made last, from the files (the manifest included), but listed too.
    files.push(crate::report::PAGE.into());
    let mut manifest = manifest(ctx, status, files)?;
    manifest.steps = steps;
    manifest.parameters = model.dag.param_count();
    manifest.backend = be.name().into();
    manifest.cpu = (be.name() == "cpu").then(crate::backend::cpu::path::report);
    manifest.dtype = T::DTYPE.name().into();
    manifest.threads = be.threads();
    manifest.final_metrics = final_metrics.iter().cloned().collect::<BTreeMap<_, _>>();
    manifest.train_samples_per_second = history.and_then(History::train_rate);
    manifest.inference_samples_per_second = history.and_then(History::eval_rate);
    manifest.probes_skipped = skipped.clone();
    let wall_seconds = manifest.wall_seconds;
    write_manifest(dir, &manifest)?;
    crate::report::write_run_page(&dir.path_of(""))?;
    Ok(Executed {
        summary: RunSummary {
            dir: dir.final_path(),
            status: status.to_string(),
            steps,
            wall_seconds,
            final_metrics,
            printed,
            removed_stale: vec![],
            probes_skipped: skipped,
            notes: vec![],
            attempts: 1 + ctx.resuming.map_or(0, |r| r.meta.resumes.len()),
        },
        diverged,
    })
}

/// The manifest's fields known whatever happened to the run; the caller fills in the
/// rest (backend, steps, metrics, …).
fn manifest(ctx: &RunContext, status: &str, mut files: Vec<String>) -> Result<Manifest> {
    let spec = &ctx.p.loaded.spec;
    let spec_path = &ctx.opts.spec_path;
    let finished = now_utc();
    files.push("manifest.json".into());
    Ok(Manifest {
        program: "runner".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: git_commit(spec_path),
        name: spec.name.clone(),
        spec_file: spec_path.display().to_string(),
        spec_hash: super::spec_hash_of(spec).map_err(Error::Data)?,
        seed: spec.seed,
        streams: crate::rng::STREAMS.iter().map(|s| s.to_string()).collect(),
        backend: match ctx.chosen {
            super::choice::Chosen::Cpu { .. } => "cpu".into(),
            super::choice::Chosen::Cuda { .. } => "cuda".into(),
        },
        backend_choice: ctx.chosen.why().into(),
        cuda: ctx.chosen.cuda_report().cloned(),
        cpu: None,
        dtype: spec.dtype.name().into(),
        threads: rayon::current_num_threads(),
        started: ctx.started.iso(),
        finished: finished.iso(),
        // Compute time: a resumed run's attempts added, the time it lay stopped left out.
        wall_seconds: super::execute::Segment::of(ctx).seconds_so_far(finished.unix_seconds),
        status: status.into(),
        error: None,
        steps: 0,
        parameters: ctx.p.dag.param_count(),
        final_metrics: BTreeMap::new(),
        train_samples_per_second: None,
        inference_samples_per_second: None,
        files,
        data_files: ctx.p.data_files.clone(),
        resumed: ctx.resuming.map(|r| r.meta.resumes.clone()).unwrap_or_default(),
        probes_skipped: vec![],
        probed: ctx.resuming.map(|r| r.probed.clone()).unwrap_or_default(),
    })
}

fn write_manifest(dir: &RunDir, manifest: &Manifest) -> Result<()> {
    let json = serde_json::to_string_pretty(manifest).map_err(|e| Error::Data(e.to_string()))?;
    dir.write("manifest.json", json.as_bytes())
}

/// The manifest of a run that failed after its folder was reserved: status `failed`,
/// the error, and the files written so far; then the report page, which shows the error.
pub fn write_failed_manifest(ctx: &RunContext, error: &Error) -> Result<()> {
    let dir = ctx.dir;
    let listed = std::fs::read_dir(dir.path_of("")).map_err(|e| Error::io(dir.path_of(""), e))?;
    let mut files: Vec<String> = listed
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != results::OWNER_FILE)
        .collect();
    files.sort();
    if !files.iter().any(|f| f == crate::report::PAGE) {
        files.push(crate::report::PAGE.into());
    }
    let mut manifest = manifest(ctx, "failed", files)?;
    // Written before the folder gets its visible name: a file the error names is named
    // where it will be, not under the hidden name that is gone after the rename.
    let hidden = dir.path_of("");
    let hidden = hidden.to_string_lossy();
    let hidden = hidden.trim_end_matches('/');
    manifest.error = Some(error.to_string().replace(hidden, &dir.final_path().to_string_lossy()));
    write_manifest(dir, &manifest)?;
    // The page shows the error; the manifest alone keeps the folder (a page that cannot
    // be written is no reason to remove what the run wrote).
    let _ = crate::report::write_run_page(&dir.path_of(""));
    Ok(())
}

/// The last record of each split, as `split.metric`, each the value metrics.csv's text
/// gives (0.986, not the f32 run's 0.9860000014305116).
fn final_metrics(history: Option<&History>, dtype: crate::backend::DType) -> Vec<(String, f64)> {
    let Some(h) = history else { return vec![] };
    let mut out = Vec::new();
    for split in [Split::Train, Split::Validation, Split::Test] {
        if let Some(r) = h.last.iter().find(|r| r.split == split) {
            for (m, v) in h.metrics.iter().zip(&r.values) {
                out.push((format!("{}.{}", split.name(), m.name()), results::as_written(*v, dtype)));
            }
        }
    }
    out
}

fn git_commit(spec_path: &Path) -> Option<String> {
    let dir = spec_path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).current_dir(dir).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Per split: the inputs, the targets, and each requested node's values.
fn predictions_csv<T: Element, B: Backend<T>>(be: &B, model: &Model<T, B>, p: &Prepared) -> String {
    let spec = &p.loaded.spec;
    let nodes: Vec<usize> = if spec.output.nodes.is_empty() {
        vec![model.dag.output]
    } else {
        spec.output.nodes.iter().filter_map(|n| model.dag.find(n)).collect()
    };
    let mut text = String::new();
    for split in p.data.present() {
        let Some(d) = train::split_data(&p.data, split) else {
            continue;
        };
        let values = train::node_values(be, model, &d.inputs.values(), &d.sample_shape(), &nodes);
        let mut cols = Columns::new(d.len());
        // Named features (not an image's pixels) go in as columns.
        if d.feature_names.len() == d.features {
            cols.push_block(&d.inputs.values(), d.features, |j| d.feature_names[j].clone());
        }
        cols.push_block(&d.targets, d.target_cols, |j| format!("target_{}", d.target_names[j]));
        for (&i, v) in nodes.iter().zip(&values) {
            let node = &model.dag.nodes[i];
            let w = node.width().max(1);
            if !node.batched {
                // A reduction over the batch: repeat its one value on every row.
                cols.push_block(&vec![v[0]; d.len()], 1, |_| node.name.clone());
            } else if w == 1 {
                cols.push_block(v, 1, |_| node.name.clone());
            } else {
                cols.push_block(v, w, |j| format!("{}_{j}", node.name));
            }
        }
        // A first column names the split of each row.
        let csv = cols.to_csv(T::DTYPE);
        let mut lines = csv.lines();
        let header = lines.next().unwrap_or("");
        if text.is_empty() {
            text = format!("split,{header}\n");
        }
        text.extend(lines.map(|l| format!("{},{l}\n", split.name())));
    }
    text
}

/// Long format: node, row, column, gradient of the output's sum with respect to it.
fn gradients_csv<T: Element, B: Backend<T>>(be: &B, model: &Model<T, B>, p: &Prepared) -> String {
    let names = &p.loaded.spec.output.gradients;
    let nodes: Vec<usize> = names.iter().filter_map(|n| model.dag.find(n)).collect();
    let grads = train::input_gradients(be, model, &p.data.train, &nodes);
    let mut out = String::from("node,row,col,grad\n");
    for (&i, g) in nodes.iter().zip(&grads) {
        let node = &model.dag.nodes[i];
        let w = if node.batched { node.width().max(1) } else { 1 };
        for (k, v) in g.iter().enumerate() {
            out.push_str(&format!("{},{},{}", node.name, k / w, k % w));
            results::push_cell(&mut out, *v, T::DTYPE);
            out.push('\n');
        }
    }
    out
}

/// Every probe's files, in spec order (`only`: just the probes of these kinds), and the
/// kinds of those not drawn because `stop(i)` said to stop before probe i.
pub(super) fn probe_files<T: Element, B: Backend<T>>(
    be: &B,
    model: &Model<T, B>,
    p: &Prepared,
    history: Option<&History>,
    param_names: &[String],
    only: Option<&[ProbeKind]>,
    stop: &dyn Fn(usize) -> bool,
) -> Result<(Vec<ProbeFile>, Vec<String>)> {
    let spec = &p.loaded.spec;
    let mut list: Vec<ProbeSpec> = spec.probes.iter().map(|s| s.get_ref().clone()).collect();
    if list.is_empty() && history.is_some_and(|h| h.steps > 0) {
        list.push(ProbeSpec::of(ProbeKind::Curves));
    }
    if let Some(kinds) = only {
        list.retain(|probe| kinds.contains(&probe.kind));
    }
    let out_width = model.dag.nodes[model.dag.output].width();
    let inspector = Inspector::new(be, model, p.data.train.sample_shape());
    let mut files = Vec::new();
    // A split's outputs are computed once, and only for probes that read them: a pass
    // over 8,000 digits costs about a second.
    let mut outputs_of: Vec<(Split, Vec<f64>)> = Vec::new();
    // Pictures name a linear model's parameters θᵢ as the printed table does.
    let (param_labels, param_truth) = super::printed::param_labels(param_names, &model.dag, p);
    for (index, probe) in list.iter().enumerate() {
        if stop(index) {
            return Ok((files, list[index..].iter().map(|probe| probe.kind.name().to_string()).collect()));
        }
        let split = probe.split.unwrap_or_else(|| probes::default_split(probe.kind, p.data.test.is_some()));
        let Some(data) = train::split_data(&p.data, split) else {
            let kind = probe.kind.name();
            return Err(Error::Data(format!("probe `{kind}`: the data has no {} split", split.name())));
        };
        if probes::reads_outputs(probe.kind) && !outputs_of.iter().any(|(s, _)| *s == split) {
            outputs_of.push((split, train::predict_split(be, model, data)));
        }
        let outputs = match outputs_of.iter().find(|(s, _)| *s == split) {
            Some((_, o)) if probes::reads_outputs(probe.kind) => o.as_slice(),
            _ => &[],
        };
        let ctx = ProbeContext {
            run_name: &spec.name,
            history,
            param_names: &param_labels,
            param_truth: &param_truth,
            split,
            data,
            outputs,
            out_width,
            model: &inspector,
            scale: p.data.scale,
            seed: spec.seed,
            dtype: T::DTYPE,
        };
        let made =
            probes::render(probe, &ctx).map_err(|m| Error::Data(format!("probe `{}`: {m}", probe.kind.name())))?;
        files.extend(made);
    }
    Ok((files, vec![]))
}

/// The confusion matrix of a classifier on the test split (the training split when
/// there is none); None for a regression or a model without targets.
fn class_report<T: Element, B: Backend<T>>(
    be: &B,
    model: &Model<T, B>,
    p: &Prepared,
) -> Option<crate::metrics::Confusion> {
    let split = if p.data.test.is_some() { Split::Test } else { Split::Train };
    let d = train::split_data(&p.data, split)?;
    let out = &model.dag.nodes[model.dag.output];
    let width = out.width();
    // A classifier: classes named in [data], or one-hot target columns trained with
    // cross-entropy (or ending in a softmax), whose scores metrics.csv already takes
    // from the same confusion matrix.
    let one_hot = width >= 2
        && (p.loaded.spec.train.as_ref().and_then(|t| t.get_ref().loss) == Some(crate::spec::LossKind::CrossEntropy)
            || out.op == crate::graph::NodeOp::Softmax);
    if !(d.classes.is_some() || one_hot) || d.target_cols == 0 || !out.batched {
        return None;
    }
    let outputs = train::predict_split(be, model, d);
    let targets = d.target_matrix(width);
    (targets.len() == outputs.len()).then(|| {
        let scored =
            crate::metrics::Scored { outputs: &outputs, targets: &targets, cols: width, loss: 0.0, multi_label: false };
        crate::metrics::confusion(&scored)
    })
}
