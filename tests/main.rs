//! All integration tests in one binary (one link, shared helpers); the modules live
//! in tests/suite/.

#[path = "suite/attacks.rs"]
mod attacks;
#[path = "suite/attribution.rs"]
mod attribution;
#[path = "suite/backend_choice.rs"]
mod backend_choice;
#[path = "suite/charts.rs"]
mod charts;
#[path = "suite/checkpoint.rs"]
mod checkpoint;
#[path = "suite/common/mod.rs"]
mod common;
#[path = "suite/corpus.rs"]
mod corpus;
#[path = "suite/cpu_paths.rs"]
mod cpu_paths;
#[path = "suite/csv_numbers.rs"]
mod csv_numbers;
#[path = "suite/cuda.rs"]
mod cuda;
#[path = "suite/diff.rs"]
mod diff;
#[path = "suite/errors.rs"]
mod errors;
#[path = "suite/experiments.rs"]
mod experiments;
#[path = "suite/fuzz.rs"]
mod fuzz;
#[path = "suite/golden.rs"]
mod golden;
#[path = "suite/hooks.rs"]
mod hooks;
#[path = "suite/interrupt.rs"]
mod interrupt;
#[path = "suite/live.rs"]
mod live;
#[path = "suite/memory.rs"]
mod memory;
#[path = "suite/messages.rs"]
mod messages;
#[path = "suite/mnist.rs"]
mod mnist;
#[path = "suite/printed.rs"]
mod printed;
#[path = "suite/probe_command.rs"]
mod probe_command;
#[path = "suite/probe_command_causes.rs"]
mod probe_command_causes;
#[path = "suite/probe_inputs.rs"]
mod probe_inputs;
#[path = "suite/report.rs"]
mod report;
#[path = "suite/reproducibility.rs"]
mod reproducibility;
#[path = "suite/resume.rs"]
mod resume;
#[path = "suite/resume_trust.rs"]
mod resume_trust;
#[path = "suite/run_folders.rs"]
mod run_folders;
#[path = "suite/schema.rs"]
mod schema;
#[path = "suite/slurm.rs"]
mod slurm;
#[path = "suite/sweep.rs"]
mod sweep;
