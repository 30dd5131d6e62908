//! runner: declarative neural-network experiments. A TOML spec becomes a checked
//! layer graph, trains on a backend, and leaves a reproducible results folder.

pub mod autodiff;
pub mod backend;
pub mod data;
pub mod error;
pub mod graph;
pub mod layers;
pub mod metrics;
pub mod optim;
pub mod rng;
pub mod spec;
pub mod train;
pub mod plot;
pub mod results;
pub mod probes;
pub mod cli;
pub mod experiment;
