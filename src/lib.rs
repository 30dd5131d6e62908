//! runner: declarative neural-network experiments. A TOML spec becomes a checked
//! layer graph, trains on a backend, and leaves a reproducible results folder.

// Inside an `unsafe fn`, each unsafe operation still needs its own block and SAFETY note.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod alloc;
pub mod autodiff;
pub mod backend;
pub mod cli;
pub mod data;
pub mod diff;
pub mod error;
pub mod experiment;
pub mod graph;
pub mod inspect;
pub mod layers;
pub mod metrics;
pub mod optim;
pub mod plot;
pub mod probes;
pub mod report;
pub mod results;
pub mod rng;
pub mod serve;
pub mod spec;
pub mod sweep;
pub mod train;
pub mod workers;
