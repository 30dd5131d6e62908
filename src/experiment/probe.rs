//! `runner probe RUN_FOLDER`: runs probes on a finished run's trained model, read back
//! from its model.safetensors, without training again, and adds their files to the
//! folder. The folder's spec.toml is self-contained (absolute data paths), so the data
//! and the graph are rebuilt exactly as the run had them; the probes then see the very
//! values the run ended with and write the same bytes as the run's own probes.

use super::choice::Chosen;
use super::{outputs, Prepared};
use crate::backend::cuda::CudaBackend;
use crate::backend::{Backend, CpuBackend, DType, Element};
use crate::error::{Error, Result};
use crate::layers::Model;
use crate::probes::ProbeFile;
use crate::results::{self, element_names, FinishedRun};
use crate::spec::{ProbeKind, ProbeSpec};
use std::path::PathBuf;

pub struct ProbeOptions {
    pub folder: PathBuf,
    /// `--probe` kinds as typed: only these run. A kind the spec has no entry for runs
    /// with its defaults.
    pub kinds: Vec<String>,
    /// `--set` and `--unset` edits of the run's spec (the probes' settings).
    pub sets: Vec<String>,
    /// `--backend`; `None` takes the run's spec's `backend`.
    pub backend: Option<crate::backend::BackendChoice>,
}

pub struct ProbeSummary {
    /// The files written, in probe order.
    pub files: Vec<PathBuf>,
    /// Probes of the spec left out, with why.
    pub skipped: Vec<String>,
}

/// Every probe kind, for `--probe` and its "did you mean".
const KINDS: [ProbeKind; 16] = [
    ProbeKind::Curves,
    ProbeKind::Params,
    ProbeKind::Dataset,
    ProbeKind::DecisionBoundary,
    ProbeKind::TruthVsPrediction,
    ProbeKind::Confusion,
    ProbeKind::Misclassified,
    ProbeKind::Filters,
    ProbeKind::Activations,
    ProbeKind::Saliency,
    ProbeKind::InputXGradient,
    ProbeKind::Deconvnet,
    ProbeKind::GuidedBackprop,
    ProbeKind::GradientAscent,
    ProbeKind::Occlusion,
    ProbeKind::Adversarial,
];

/// Probes that draw what happened during training, which a checkpoint does not hold.
fn needs_history(kind: ProbeKind) -> bool {
    matches!(kind, ProbeKind::Curves | ProbeKind::Params)
}

fn parse_kind(typed: &str) -> Result<ProbeKind> {
    if let Some(k) = KINDS.iter().find(|k| k.name() == typed) {
        return Ok(*k);
    }
    let names: Vec<String> = KINDS.iter().map(|k| k.name()).collect();
    let hint = crate::spec::suggest(typed, names.iter().map(String::as_str))
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_else(|| format!(" (the kinds: {})", names.join(", ")));
    Err(Error::Usage(format!("--probe: there is no probe kind `{typed}`{hint}")))
}

pub fn probe(opts: &ProbeOptions) -> Result<ProbeSummary> {
    let refuse = |reason: String| Error::Usage(format!("cannot probe {}: {reason}", opts.folder.display()));
    // The command line first: a typo is reported before any data is read.
    let mut kinds = Vec::new();
    for typed in &opts.kinds {
        let kind = parse_kind(typed)?;
        if needs_history(kind) {
            return Err(Error::Usage(format!(
                "--probe {typed}: `{typed}` draws the training history, which a finished run keeps as \
                 metrics.csv/params.csv but a checkpoint does not; it is drawn at the end of training"
            )));
        }
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    for edit in &opts.sets {
        only_probe_settings(edit)?;
    }
    let run = results::finished_run(&opts.folder).map_err(refuse)?;
    let checkpoint = run.folder.join("model.safetensors");
    // The model was trained on this spec and data: pictures from an edited spec or
    // other data would be drawn as if they were the run's.
    // (A spec that no longer loads is reported by `prepare`, with its line.)
    let now = super::resolved_spec_hash(&run.folder.join("spec.toml")).ok();
    if let (Some(then), Some(now)) = (&run.spec_hash, now) {
        if *then != now {
            return Err(refuse(
                "its spec.toml is not the spec the run was made with (edited since?); probe settings are changed with --set"
                    .into(),
            ));
        }
    }
    let only = (!kinds.is_empty()).then_some(kinds.as_slice());
    let mut prepared = super::prepare_for(&run.folder.join("spec.toml"), &opts.sets, None, only)?;
    if !run.data_sha256.is_empty() {
        if let Some((file, _)) = prepared.data_files.iter().find(|(_, sha)| !run.data_sha256.contains(sha)) {
            return Err(refuse(format!(
                "{file} is not a data file the run read (its sha256 is none of those the manifest records);                  `data.path` may only point at the run's data where it has moved"
            )));
        }
    }
    // The graph decides: a manifest edited to say 0 parameters must not let the probes
    // look at an untrained model.
    if (run.parameters > 0 || prepared.dag.param_count() > 0) && !checkpoint.exists() {
        return Err(refuse(if prepared.loaded.spec.output.checkpoint {
            "its model.safetensors is gone: the run wrote one (its spec has `[output] checkpoint` on), so it was \
             deleted or moved since; the probes need the trained model"
                .into()
        } else {
            "it has no model.safetensors (the run was made with `[output] checkpoint = false`)".into()
        }));
    }
    let given =
        if checkpoint.exists() { super::checkpoint::read(&checkpoint, &prepared.dag)? } else { Default::default() };
    let (kinds, skipped) = choose(&mut prepared, kinds)?;
    let spec_path = run.folder.join("spec.toml");
    let chosen =
        super::choice::choose(&super::choice::Asked::new(opts.backend, prepared.loaded.spec.backend, &spec_path))?;
    let cpu = CpuBackend::new();
    let made = match (&chosen, prepared.loaded.spec.dtype) {
        (Chosen::Cpu { .. }, DType::F32) => probe_with::<f32, _>(&cpu, &prepared, &given, &kinds)?,
        (Chosen::Cpu { .. }, DType::F64) => probe_with::<f64, _>(&cpu, &prepared, &given, &kinds)?,
        (Chosen::Cuda { backend, .. }, DType::F32) => {
            probe_with::<f32, CudaBackend>(backend, &prepared, &given, &kinds)?
        }
        (Chosen::Cuda { backend, .. }, DType::F64) => {
            probe_with::<f64, CudaBackend>(backend, &prepared, &given, &kinds)?
        }
    };
    let files: Vec<(String, Vec<u8>)> = made.into_iter().map(|f| (f.name, f.bytes)).collect();
    let event = record(opts, &prepared, &kinds, chosen.why(), &files);
    let paths = add(&run, &files, &event)?;
    Ok(ProbeSummary { files: paths, skipped })
}

/// What made these files, for the manifest: the command line's edits and the probe
/// entries as they ran (the folder's spec.toml still holds the run's own ones).
fn record(
    opts: &ProbeOptions,
    p: &Prepared,
    kinds: &[ProbeKind],
    backend: &str,
    files: &[(String, Vec<u8>)],
) -> results::ProbeEvent {
    let (unsets, sets): (Vec<&String>, Vec<&String>) =
        opts.sets.iter().partition(|e| e.starts_with(crate::spec::UNSET_PREFIX));
    let probes = p.loaded.spec.probes.iter().map(|s| s.get_ref()).filter(|s| kinds.contains(&s.kind));
    results::ProbeEvent {
        at: results::now_utc().iso(),
        kinds: opts.kinds.clone(),
        unsets: unsets.iter().map(|e| e[crate::spec::UNSET_PREFIX.len()..].to_string()).collect(),
        sets: sets.into_iter().cloned().collect(),
        backend: backend.to_string(),
        // A probe entry is plain data (names, numbers, lists): it always serialises.
        probes: probes.filter_map(|s| serde_json::to_value(s).ok()).collect(),
        files: files.iter().map(|(name, _)| name.clone()).collect(),
    }
}

/// `--set`/`--unset` may change the probes only: the model and the data are the run's
/// (its checkpoint holds that model trained on that data; another split, normalisation
/// or architecture would draw a picture of something that was never trained). The one
/// exception is `data.path`, for data that has moved since.
fn only_probe_settings(edit: &str) -> Result<()> {
    let (flag, arg) = match edit.strip_prefix(crate::spec::UNSET_PREFIX) {
        Some(key) => ("--unset", key),
        None => ("--set", edit),
    };
    let key = arg.split('=').next().unwrap_or("").trim();
    if key == "probes" || key.starts_with("probes.") || (key == "data.path" && flag == "--set") {
        return Ok(());
    }
    let shown: String = arg.chars().take(80).collect();
    Err(Error::Usage(format!(
        "{flag} {shown}: runner probe changes probe settings only (`probes.N.…`, and `data.path` for data \
         that moved); the model and data are the run's, as its checkpoint was trained (to change them, run the spec again)"
    )))
}

fn add(run: &FinishedRun, files: &[(String, Vec<u8>)], event: &results::ProbeEvent) -> Result<Vec<PathBuf>> {
    if files.is_empty() {
        return Ok(vec![]);
    }
    let paths = results::add_files(run, files, event)?;
    // The page shows every picture of the folder: made again with the new ones.
    crate::report::write_run_page(&run.folder)?;
    Ok(paths)
}

/// The kinds to run and the notes on those left out. With no `--probe`, every probe of
/// the spec that a checkpoint can draw; with `--probe`, those kinds, a default entry
/// added (and checked) for each the spec does not list.
fn choose(p: &mut Prepared, asked: Vec<ProbeKind>) -> Result<(Vec<ProbeKind>, Vec<String>)> {
    let listed: Vec<ProbeKind> = p.loaded.spec.probes.iter().map(|s| s.get_ref().kind).collect();
    if asked.is_empty() {
        let skipped: Vec<String> = listed
            .iter()
            .filter(|k| needs_history(**k))
            .map(|k| format!("`{}` is left out: it draws the training history, drawn at the end of training", k.name()))
            .collect();
        let mut kinds: Vec<ProbeKind> = Vec::new();
        for k in listed.into_iter().filter(|k| !needs_history(*k)) {
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        if kinds.is_empty() {
            return Err(Error::Usage(format!(
                "{}: the spec has no [[probes]] a checkpoint can draw; name one with --probe KIND \
                 (e.g. --probe saliency)",
                p.loaded.source.file
            )));
        }
        return Ok((kinds, skipped));
    }
    for &kind in &asked {
        if listed.contains(&kind) {
            continue;
        }
        let probe = ProbeSpec::of(kind);
        crate::probes::precheck(&probe, &p.loaded.spec, &p.data, &p.dag)
            .map_err(|(_, m)| Error::Usage(format!("--probe {}: {m}", kind.name())))?;
        p.loaded.spec.probes.push(toml::Spanned::new(0..0, probe));
    }
    Ok((asked, vec![]))
}

fn probe_with<T: Element, B: Backend<T>>(
    be: &B,
    p: &Prepared,
    given: &std::collections::HashMap<String, Vec<f64>>,
    kinds: &[ProbeKind],
) -> Result<Vec<ProbeFile>> {
    let model = Model::<T, B>::new(p.dag.clone(), be, p.loaded.spec.seed, Some(given));
    let param_names: Vec<String> =
        model.named_params().iter().flat_map(|(n, shape, _)| element_names(n, shape)).collect();
    let (files, _) = outputs::probe_files(be, &model, p, None, &param_names, Some(kinds), &|_| false)?;
    // Pictures drawn from a failed backend's placeholders are not added to the run.
    be.check()?;
    Ok(files)
}
