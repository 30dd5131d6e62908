//! TOML → typed [`Spec`]: parsing with exact error positions, `--set` overrides,
//! "did you mean" for misspelt keys and values, and per-kind validation.

mod data;
mod diff;
mod load;
mod messages;
mod model;
mod output;
mod overrides;
mod probe;
mod schema;
mod train;
mod types;
mod validate;
mod validate_hooks;
mod validate_model;
mod validate_probe;

pub use data::*;
pub use diff::DiffSpec;
pub use load::{
    data_span, error_at, key_span, load, load_str, read_spec_text, suggest, LoadedSpec, MAX_SPEC_BYTES, UNSET_PREFIX,
};
pub use messages::plain as plain_message;
pub mod sweep;
pub mod sweep_slurm;
pub use probe::*;
pub use schema::{json_schema, schema_text, SchemaKind};
pub use types::*;
pub use validate::{kind_name, op_name_of, show};
pub use validate_model::name_problem;
pub use validate_probe::MAX_ASCENT_TARGETS;
