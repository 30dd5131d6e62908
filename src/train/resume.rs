//! What the loop hands out at a checkpoint, and what it takes back to continue from
//! one: the parameters (batch-norm running statistics are parameters too), the
//! optimizer's buffers, and the positions of everything that moves between steps.
//! The learning rate is a function of the step, so the step is its position.

use super::History;
use crate::backend::{Backend, Element};
use crate::layers::Model;
use crate::optim::Optimizer;
use crate::rng::StreamRng;
use serde::{Deserialize, Serialize};

/// Where the loop stands between two steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopPosition {
    /// Updates done, which is the next step to run.
    pub step: usize,
    /// Steps the run was planned for.
    pub total: usize,
    pub optimizer_steps: u64,
    /// ChaCha word positions of the streams the loop draws from.
    pub shuffle: u128,
    pub augment: u128,
    pub dropout: u128,
    /// The shuffle stream's position when this epoch's order was drawn: drawing again
    /// from there gives the order back without storing it.
    pub shuffle_epoch_start: u128,
    /// Throughput so far (the manifest's rates count every segment of the run).
    pub train_seconds: f64,
    pub train_samples: usize,
    pub eval_seconds: f64,
    pub eval_samples: usize,
}

/// A checkpoint as the loop makes it: positions plus tensors (name, shape, little-endian
/// bytes of the run's dtype). Parameters are named `param.<node>.<name>`, optimizer
/// buffers `optim.<node index>.<param index>.<first|second>`.
pub struct Snapshot {
    pub position: LoopPosition,
    pub tensors: Vec<(String, Vec<usize>, Vec<u8>)>,
}

/// What a resumed loop starts from: the position, the optimizer's buffers (already
/// uploaded) and the history rebuilt from the rows written before the checkpoint.
pub struct Start<Buf> {
    pub position: LoopPosition,
    pub optimizer: Vec<(usize, usize, String, Buf)>,
    pub history: History,
}

pub const PARAM_PREFIX: &str = "param.";
pub const OPTIM_PREFIX: &str = "optim.";

pub struct Streams<'a> {
    pub shuffle: &'a StreamRng,
    pub augment: &'a StreamRng,
    pub dropout: &'a StreamRng,
    pub shuffle_epoch_start: u128,
}

pub fn snapshot<T: Element, B: Backend<T>>(
    be: &B,
    model: &Model<T, B>,
    optimizer: &Optimizer<B::Buf>,
    history: &History,
    step: usize,
    total: usize,
    streams: Streams,
) -> Snapshot {
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = model
        .named_params()
        .into_iter()
        .map(|(name, shape, buf)| (format!("{PARAM_PREFIX}{name}"), shape, T::le_bytes(&be.download(buf))))
        .collect();
    for (i, j, which, buf) in optimizer.state() {
        let values = be.download(buf);
        tensors.push((format!("{OPTIM_PREFIX}{i}.{j}.{which}"), vec![values.len()], T::le_bytes(&values)));
    }
    let position = LoopPosition {
        step,
        total,
        optimizer_steps: optimizer.steps(),
        shuffle: streams.shuffle.get_word_pos(),
        augment: streams.augment.get_word_pos(),
        dropout: streams.dropout.get_word_pos(),
        shuffle_epoch_start: streams.shuffle_epoch_start,
        train_seconds: history.train_seconds,
        train_samples: history.train_samples,
        eval_seconds: history.eval_seconds,
        eval_samples: history.eval_samples,
    };
    Snapshot { position, tensors }
}

/// Parses `optim.<i>.<j>.<first|second>`.
pub fn parse_optim_name(name: &str) -> Option<(usize, usize, String)> {
    let rest = name.strip_prefix(OPTIM_PREFIX)?;
    let mut parts = rest.split('.');
    let i = parts.next()?.parse().ok()?;
    let j = parts.next()?.parse().ok()?;
    let which = parts.next().filter(|w| *w == "first" || *w == "second")?;
    parts.next().is_none().then(|| (i, j, which.to_string()))
}
