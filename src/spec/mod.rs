//! TOML → typed [`Spec`]: parsing with exact error positions, `--set` overrides,
//! "did you mean" for misspelt keys and values, and per-kind validation.

mod data;
mod diff;
mod load;
mod overrides;
mod types;
mod validate;

pub use data::*;
pub use diff::DiffSpec;
pub use load::{load, load_str, suggest, LoadedSpec};
pub use types::*;
pub use validate::{kind_name, op_name_of};
