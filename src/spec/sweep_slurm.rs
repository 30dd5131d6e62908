//! `[sweep.slurm]`: how `runner sweep --executor slurm` asks Slurm for its job array.
//! Each key is also a command-line option of `runner sweep`, which wins over the table.
//!
//! ```toml
//! [sweep.slurm]
//! partition = "cpu"
//! time = "0:30:00"          # per task, in any of Slurm's --time formats
//! cpus_per_task = 4         # each run uses that many threads
//! mem = "4G"
//! max_parallel = 16         # the array's %K throttle
//! sbatch_args = ["--account=ml", "--qos=short"]
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlurmSpec {
    /// Slurm partition (sbatch --partition).
    #[serde(default)]
    pub partition: Option<String>,
    /// Time limit per task, in any of Slurm's --time formats (30, 2:00:00, 1-12:00:00).
    #[serde(default)]
    pub time: Option<String>,
    /// CPUs per task; each run uses that many threads.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub cpus_per_task: Option<u32>,
    /// Memory per task (sbatch --mem, e.g. "4G").
    #[serde(default)]
    pub mem: Option<String>,
    /// Tasks running at once (the array's %K throttle).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_parallel: Option<u32>,
    /// Further sbatch options, one per item, written as `#SBATCH` lines of the script.
    #[serde(default)]
    pub sbatch_args: Vec<String>,
}
