//! The training loop: forward ▸ loss ▸ backward ▸ step, with metrics recorded at the
//! requested cadence. Step s's record describes the parameters after s updates, so
//! step 0 is the initial model, as in the notes' logs.

mod evaluate;
mod hooks;
mod loss_plan;
mod observer;
mod record;
mod resume;

pub use evaluate::{evaluate, input_gradients, node_values, predict, predict_split, Evaluation};
pub use hooks::{columns as layer_columns, Hook, LayerRow, DEFAULT_EVERY as DEFAULT_HOOK_EVERY};
pub use loss_plan::LossPlan;
pub use observer::{Interrupt, Observer};
pub use record::{History, Record, Recording, KEPT_RECORDS};
pub use resume::{parse_optim_name, LoopPosition, Snapshot, Start, OPTIM_PREFIX, PARAM_PREFIX};

use crate::autodiff::{profile, Tape};
use crate::backend::{Backend, Element};
use crate::data::{augment, Dataset, Splits};
use crate::layers::{Mode, Model};
use crate::optim::{clip_global_norm, learning_rate, Optimizer};
use crate::rng;
use crate::spec::{AugmentSpec, BatchSize, Split, TrainSpec};
use std::time::Instant;

pub struct Plan<'a> {
    pub train: &'a TrainSpec,
    pub recording: Recording<'a>,
    pub seed: u64,
    pub augment: Option<AugmentSpec>,
    /// `[[hooks]]`, resolved against the model's graph.
    pub hooks: Vec<Hook>,
}

pub fn flat_params<T: Element, B: Backend<T>>(be: &B, model: &Model<T, B>) -> Vec<f64> {
    model.params.iter().flatten().flat_map(|b| be.download(b)).map(|v| v.as_f64()).collect()
}

pub fn split_data(splits: &Splits, s: Split) -> Option<&Dataset> {
    splits.get(s)
}

pub(crate) fn to_elements<T: Element>(v: &[f64]) -> Vec<T> {
    v.iter().map(|x| T::from_f64(*x)).collect()
}

fn to_f64<T: Element>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.as_f64()).collect()
}

/// Whether a training-mode forward pass equals an evaluation one (no batch-norm, no dropout).
fn train_mode_is_eval_mode<T: Element, B: Backend<T>>(model: &Model<T, B>) -> bool {
    use crate::graph::NodeOp;
    !model.dag.nodes.iter().any(|n| matches!(n.op, NodeOp::BatchNorm { .. } | NodeOp::Dropout { .. }))
}

pub fn train<T: Element, B: Backend<T>>(
    be: &B,
    model: &mut Model<T, B>,
    data: &Splits,
    plan: &Plan,
    observer: &mut dyn Observer,
) -> History {
    train_from(be, model, data, plan, observer, None)
}

/// The batch size, steps per epoch and total steps that `[train]` plans for `n` training
/// rows.
pub fn planned_steps(t: &TrainSpec, n: usize) -> (usize, usize, usize) {
    let batch = match t.batch_size {
        BatchSize::All => n,
        BatchSize::Size(k) => k.min(n),
    };
    let steps_per_epoch = n.div_ceil(batch);
    (batch, steps_per_epoch, t.iterations.unwrap_or_else(|| t.epochs.unwrap_or(1) * steps_per_epoch))
}

/// Trains from the start, or from a checkpoint's `start` (the model then already holds
/// the checkpoint's parameters).
pub fn train_from<T: Element, B: Backend<T>>(
    be: &B,
    model: &mut Model<T, B>,
    data: &Splits,
    plan: &Plan,
    observer: &mut dyn Observer,
    start: Option<Start<B::Buf>>,
) -> History {
    let t = plan.train;
    let rec = &plan.recording;
    let loss = LossPlan::new(t, &model.dag);
    let out_width = model.dag.nodes[model.dag.output].width();
    let n = data.train.len();
    let (batch, steps_per_epoch, total) = planned_steps(t, n);
    let full_batch = batch == n && plan.augment.is_none();
    let reuse_forward = full_batch && train_mode_is_eval_mode(model);
    let mut shuffle = rng::stream(plan.seed, "shuffle");
    let mut augment_rng = rng::stream(plan.seed, "augment");
    let mut dropout_rng = rng::stream(plan.seed, "dropout");
    let mut order: Vec<usize> = (0..n).collect();
    let mut shuffle_epoch_start = shuffle.get_word_pos();
    let (mut history, mut optimizer, first) = match start {
        None => (History::new(model, data, rec), Optimizer::new(t), 0),
        Some(s) => {
            let p = s.position;
            shuffle.set_word_pos(p.shuffle_epoch_start);
            shuffle_epoch_start = p.shuffle_epoch_start;
            if p.step % steps_per_epoch != 0 && t.shuffle && !full_batch {
                order = rng::permutation(&mut shuffle, n);
            }
            shuffle.set_word_pos(p.shuffle);
            augment_rng.set_word_pos(p.augment);
            dropout_rng.set_word_pos(p.dropout);
            let shape: Vec<usize> = model.params.iter().map(Vec::len).collect();
            let state =
                s.optimizer.into_iter().map(|(i, j, w, b)| (i, j, if w == "first" { "first" } else { "second" }, b));
            let optimizer = Optimizer::restored(t, p.optimizer_steps, &shape, state.collect());
            let mut history = s.history;
            history.train_seconds = p.train_seconds;
            history.train_samples = p.train_samples;
            history.eval_seconds = p.eval_seconds;
            history.eval_samples = p.eval_samples;
            (history, optimizer, p.step)
        }
    };
    history.steps = total;
    let wants_checkpoints = observer.wants_checkpoints();
    // Compared with the step once per step: the only per-step cost of checkpoints.
    let every = t.checkpoint_every.filter(|_| wants_checkpoints).unwrap_or(usize::MAX).max(1);
    let mut next_checkpoint = (first / every).saturating_add(1).saturating_mul(every);
    let sample_shape = data.train.sample_shape();
    let full_targets = data.train.target_matrix(out_width);
    // The full batch's input, lent to each step's tape and taken back after backward.
    let mut full_x = full_batch.then(|| be.upload(&to_elements::<T>(&data.train.inputs.values())));
    let full_t = be.upload(&to_elements::<T>(&full_targets));

    let mut done = total;
    for step in first..total {
        let stop = observer.stop_requested();
        if stop || step == next_checkpoint {
            if wants_checkpoints {
                let streams = resume::Streams {
                    shuffle: &shuffle,
                    augment: &augment_rng,
                    dropout: &dropout_rng,
                    shuffle_epoch_start,
                };
                let snapshot = resume::snapshot(be, model, &optimizer, &history, step, total, streams);
                // Never a checkpoint of placeholders: a failed backend ends the run below.
                if be.check().is_ok() {
                    observer.checkpoint(&snapshot);
                }
            }
            next_checkpoint = next_checkpoint.saturating_add(every);
        }
        if stop {
            history.interrupted = true;
            done = step;
            break;
        }
        // Epoch records start from the untrained model, as step-based ones do (which
        // record step 0 themselves: 0 is a multiple of `every`).
        if step == 0 && rec.per_epoch && rec.every.is_none() {
            history.record(be, model, data, rec, &loss, 0, 0, None);
            history.publish(observer);
        }
        let started = Instant::now();
        profile::start();
        let in_epoch = step % steps_per_epoch;
        let epoch = step / steps_per_epoch;
        if in_epoch == 0 && t.shuffle && !full_batch {
            shuffle_epoch_start = shuffle.get_word_pos();
            order = rng::permutation(&mut shuffle, n);
        }
        let (x, target, rows, host_targets) = match full_x.take() {
            Some(fx) => (fx, None, n, None),
            None => {
                let idx = &order[in_epoch * batch..((in_epoch + 1) * batch).min(n)];
                // Only this batch's inputs become f64 (images are held as bytes).
                let mut inputs = data.train.input_rows(idx);
                if let Some(a) = &plan.augment {
                    augment::apply(&mut inputs, &sample_shape, a, &mut augment_rng);
                }
                let tm = data.train.target_rows(idx).target_matrix(out_width);
                let tb = be.upload(&to_elements::<T>(&tm));
                (be.upload(&to_elements::<T>(&inputs)), Some(tb), idx.len(), Some(tm))
            }
        };
        profile::lap(|| "batch (inputs and targets)".to_string());
        let target = target.as_ref().unwrap_or(&full_t);
        let mut tape = Tape::new(be);
        let mut shape = vec![rows];
        shape.extend(&sample_shape);
        // The one per-step cost of hooks when none is due: this test.
        let hooks_due = !plan.hooks.is_empty() && hooks::any_due(&plan.hooks, step, total);
        let input_grad = hooks_due && hooks::needs_input_gradient(&model.dag, &plan.hooks, step, total);
        let xv = tape.leaf(x, shape, input_grad);
        // Hooks see each ReLU's own output, so a due step keeps ReLUs before their pools.
        let pool_before_relu = !hooks_due;
        let mut mode = Mode { train: true, param_grads: true, dropout: Some(&mut dropout_rng), pool_before_relu };
        let fwd = model.forward(&mut tape, xv, &mut mode);
        let (root, value) = loss.record(&mut tape, &fwd, target, rows);
        // After a backend error every value is a placeholder: stop before one is recorded.
        if be.check().is_err() {
            done = step;
            break;
        }
        if !value.is_finite() {
            history.diverged = Some((step, value));
            history.steps = step;
            history.record(be, model, data, rec, &loss, step, epoch, None);
            history.publish(observer);
            history.close();
            return history;
        }
        let outputs = || to_f64(&be.download(tape.value(fwd.nodes[model.dag.output])));
        if let Some(every) = rec.batch_every.filter(|e| step % e == 0) {
            let _ = every;
            let targets = host_targets.as_deref().unwrap_or(&full_targets);
            history.record_batch(step, epoch, &outputs(), targets, out_width, value);
            history.publish(observer);
        }
        if rec.every.is_some_and(|e| step % e == 0) {
            profile::pause();
            let pause = Instant::now();
            // A full, ordered batch in eval-equivalent mode is the train split: reuse it.
            let reuse = reuse_forward.then(|| Evaluation { loss: value, outputs: outputs() });
            history.record(be, model, data, rec, &loss, step, epoch, reuse);
            history.publish(observer);
            history.train_seconds -= pause.elapsed().as_secs_f64();
            profile::start();
        }
        let grads = tape.backward(root);
        let watch =
            hooks_due.then(|| hooks::Watch::before_update(be, model, &tape, &fwd, &grads, &plan.hooks, step, total));
        if full_batch {
            full_x = Some(tape.into_value(xv));
        }
        let mut owned: Vec<Vec<Option<B::Buf>>> = Vec::new();
        if let Some(max_norm) = t.clip_norm {
            let mut flat: Vec<Option<B::Buf>> =
                fwd.params.iter().flatten().map(|v| grads.get(*v).map(|g| be.copy(g))).collect();
            clip_global_norm(be, &mut flat, max_norm);
            let mut it = flat.into_iter();
            owned = fwd.params.iter().map(|ps| ps.iter().map(|_| it.next().flatten()).collect()).collect();
        }
        let param_grads: Vec<Vec<Option<&B::Buf>>> = if t.clip_norm.is_some() {
            owned.iter().map(|ps| ps.iter().map(|g| g.as_ref()).collect()).collect()
        } else {
            fwd.params.iter().map(|ps| ps.iter().map(|v| grads.get(*v)).collect()).collect()
        };
        optimizer.update(be, &mut model.params, &param_grads, learning_rate(t, step, total));
        if be.check().is_err() {
            done = step;
            break;
        }
        drop(grads);
        if let Some(watch) = watch {
            profile::pause();
            let pause = Instant::now();
            observer.layers(&watch.after_update(be, model));
            history.train_seconds -= pause.elapsed().as_secs_f64();
            profile::start();
        }
        model.update_running_stats(be, fwd.batch_stats);
        profile::lap(|| "update (optimizer, running statistics)".to_string());
        profile::pause();
        history.train_seconds += started.elapsed().as_secs_f64();
        history.train_samples += rows;
        if rec.per_epoch && (step + 1) % steps_per_epoch == 0 {
            history.record(be, model, data, rec, &loss, step + 1, epoch + 1, None);
            history.publish(observer);
        }
        if step % 16 == 0 || step + 1 == total {
            observer.progress(step + 1, total, value);
        }
    }
    history.steps = done;
    if let Some(table) = profile::report() {
        eprint!("{table}");
    }
    // The state after the last step run (all of them, or as many as ran before a stop)
    // is recorded unless the epoch record just did.
    let recorded_at_end = rec.per_epoch && done.is_multiple_of(steps_per_epoch) && done > 0;
    if rec.every.is_some() && !recorded_at_end {
        history.record(be, model, data, rec, &loss, done, done / steps_per_epoch.max(1), None);
        history.publish(observer);
    }
    history.close();
    history
}

/// Scores a model that is not trained by steps (fixed weights, or a closed-form fit)
/// once, as step 0.
pub fn score_once<T: Element, B: Backend<T>>(
    be: &B,
    model: &Model<T, B>,
    data: &Splits,
    recording: &Recording,
    loss: &LossPlan,
    observer: &mut dyn Observer,
) -> History {
    let mut history = History::new(model, data, recording);
    history.record(be, model, data, recording, loss, 0, 0, None);
    history.publish(observer);
    history.close();
    history
}
