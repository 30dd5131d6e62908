//! The `[sweep]` table: which points `runner sweep` runs. Written in a spec, or in a
//! sweep file that names its base spec (`base = "../diamond.toml"` plus `[sweep]`).
//!
//! ```toml
//! [sweep]
//! grid = { "train.lr" = [0.1, 0.01], "model.layers.hidden.units" = [2, 4, 8] }
//! paired = { "train.optimizer" = ["sgd", "adam"], "train.lr" = [0.1, 0.001] }
//! seeds = 5          # the spec's seed + 0..5; or a list: seeds = [1, 7, 42]
//! set = ["train.epochs=1"]   # for every run, as --set (the command line's apply after)
//! ```
//!
//! The points are the product of every grid axis, the paired axes (one axis whose
//! values move together) and the seeds. Each value is applied as a `--set` edit.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Key path → values; every combination of them is run.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Vec<serde_json::Value>>")]
    pub grid: BTreeMap<String, Vec<toml::Value>>,
    /// Key path → values of one common length: the i-th values go together.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Vec<serde_json::Value>>")]
    pub paired: BTreeMap<String, Vec<toml::Value>>,
    /// How many seeds each point runs with (from the spec's seed on), or the list of seeds.
    #[serde(default)]
    pub seeds: Option<Seeds>,
    /// `key.path=value` edits for every run, as `--set` (the command line's come after).
    #[serde(default)]
    pub set: Vec<String>,
    /// `[sweep.slurm]`: the job array's resources for `--executor slurm`.
    #[serde(default)]
    pub slurm: Option<super::sweep_slurm::SlurmSpec>,
}

/// `seeds = N` runs seeds base..base+N where base is the spec's seed (so `seeds = 1` is
/// the spec as written); a list runs exactly those seeds.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Seeds {
    /// Seeds base..base+N (at least 1).
    Count(u64),
    /// Exactly these seeds.
    List(Vec<u64>),
}

/// What `seeds` takes, for its errors (an untagged enum's derived error only says that
/// no variant matched).
const SEEDS_EXPECTED: &str = "a number of seeds (`seeds = 5`) or a list of seeds (`seeds = [1, 7, 42]`)";

impl<'de> Deserialize<'de> for Seeds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Seeds;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(SEEDS_EXPECTED)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Seeds, E> {
                Ok(Seeds::Count(n))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Seeds, E> {
                u64::try_from(n)
                    .map(Seeds::Count)
                    .map_err(|_| E::custom(format!("seeds: expected {SEEDS_EXPECTED}, found {n}")))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Seeds, A::Error> {
                let mut list = Vec::new();
                while let Some(Seed(s)) = seq.next_element()? {
                    list.push(s);
                }
                Ok(Seeds::List(list))
            }
        }
        d.deserialize_any(V)
    }
}

/// One seed of a `seeds` list: an integer of at least 0.
struct Seed(u64);

impl<'de> Deserialize<'de> for Seed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Seed;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a seed (an integer of at least 0) in the list of seeds")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Seed, E> {
                Ok(Seed(n))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Seed, E> {
                u64::try_from(n).map(Seed).map_err(|_| E::custom(format!("seeds: a seed is at least 0, found {n}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// The most runs one sweep plans: each point is loaded and checked before any runs.
pub const MAX_RUNS: u64 = 100_000;

/// A sweep file: a base spec (relative to the sweep file) and its sweep.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// The spec the sweep edits, relative to this file (`"../diamond.toml"`).
    pub base: String,
    /// The settings to vary: `grid`, `paired`, `seeds`, `set`.
    pub sweep: SweepSpec,
}

/// One point of the sweep before its seed: (key path, value) for every axis.
pub type Setting = Vec<(String, toml::Value)>;

impl SweepSpec {
    /// The swept key paths in column order: grid axes, then paired ones.
    pub fn keys(&self) -> Vec<String> {
        self.grid.keys().chain(self.paired.keys()).cloned().collect()
    }

    /// Why the sweep cannot be expanded: an empty axis, unequal paired lengths, a key
    /// swept twice, `seeds = 0`.
    pub fn problem(&self) -> Option<String> {
        if let Some((k, _)) = self.grid.iter().chain(&self.paired).find(|(_, v)| v.is_empty()) {
            return Some(format!("the axis \"{k}\" has no values"));
        }
        for (k, values) in &self.grid {
            if let Some(j) = (1..values.len()).find(|&j| values[..j].contains(&values[j])) {
                return Some(format!("the axis \"{k}\" lists {} twice; list each value once", value_text(&values[j])));
            }
        }
        if let Some(k) = self.grid.keys().find(|k| self.paired.contains_key(*k)) {
            return Some(format!("\"{k}\" is both in grid and in paired; sweep it once"));
        }
        let lengths: Vec<usize> = self.paired.values().map(Vec::len).collect();
        if lengths.windows(2).any(|w| w[0] != w[1]) {
            let shown: Vec<String> = self.paired.iter().map(|(k, v)| format!("\"{k}\": {}", v.len())).collect();
            return Some(format!("paired axes move together, so they need equal lengths ({})", shown.join(", ")));
        }
        match &self.seeds {
            Some(Seeds::Count(0)) => return Some("seeds = 0 runs nothing; write at least 1".into()),
            Some(Seeds::List(l)) if l.is_empty() => return Some("seeds = [] runs nothing".into()),
            _ => {}
        }
        // Counted before anything is expanded: a few long axes (or `seeds = 1e12`) would
        // otherwise take all memory listing points that could never all run.
        let seeds = match &self.seeds {
            None => 1,
            Some(Seeds::Count(n)) => *n,
            Some(Seeds::List(l)) => l.len() as u64,
        };
        let pairs = self.paired.values().next().map_or(1, |v| v.len() as u64);
        let runs =
            self.grid.values().try_fold(pairs, |n, v| n.checked_mul(v.len() as u64)).and_then(|n| n.checked_mul(seeds));
        match runs {
            Some(n) if n <= MAX_RUNS => None,
            _ => {
                let mut sizes: Vec<String> = self.grid.iter().map(|(k, v)| format!("\"{k}\" {}", v.len())).collect();
                if !self.paired.is_empty() {
                    sizes.push(format!("paired {pairs}"));
                }
                sizes.push(format!("{seeds} seeds"));
                let count = runs.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string());
                Some(format!(
                    "the sweep has {count} runs ({}); at most {MAX_RUNS} are planned at once: split it into several \
                     sweeps",
                    sizes.join(" × ")
                ))
            }
        }
    }

    /// Why the axis `key` cannot be swept: `seed` beside `seeds`, which sets each
    /// run's seed too (the points would collide or silently lose one of them), or a
    /// `sweep.*` key, which says what the sweep runs rather than what a run does.
    pub fn key_problem(&self, key: &str) -> Option<String> {
        let key = key.trim();
        if key == "sweep" || key.starts_with("sweep.") {
            return Some("sweep.* keys cannot be swept; write the sweep's own settings in [sweep]".into());
        }
        if key == "seed" && self.seeds.is_some() {
            return Some(
                "sweeping `seed` conflicts with `seeds`, which sets each run's seed too; \
                 list them in `seeds` instead (`seeds = [1, 7, 42]` runs exactly those)"
                    .into(),
            );
        }
        None
    }

    /// Every setting (without the seed), grid axes varying slowest in key order, the
    /// paired group fastest.
    pub fn settings(&self) -> Vec<Setting> {
        let mut out: Vec<Setting> = vec![vec![]];
        for (key, values) in &self.grid {
            out = out
                .into_iter()
                .flat_map(|s| {
                    values.iter().map(move |v| {
                        let mut s = s.clone();
                        s.push((key.clone(), v.clone()));
                        s
                    })
                })
                .collect();
        }
        let pairs = self.paired.values().next().map_or(0, Vec::len);
        if pairs > 0 {
            out = out
                .into_iter()
                .flat_map(|s| {
                    (0..pairs).map(move |i| {
                        let mut s = s.clone();
                        s.extend(self.paired.iter().map(|(k, v)| (k.clone(), v[i].clone())));
                        s
                    })
                })
                .collect();
        }
        out
    }

    /// The seeds to run, given the spec's own seed; `None` (no `seeds`) runs the spec's.
    pub fn seed_list(&self, base: u64) -> Vec<Option<u64>> {
        match &self.seeds {
            None => vec![None],
            Some(Seeds::Count(n)) => (0..*n).map(|i| Some(base.wrapping_add(i))).collect(),
            Some(Seeds::List(l)) => l.iter().map(|s| Some(*s)).collect(),
        }
    }
}

/// A value as a `--set` takes it (strings quoted, numbers as TOML writes them).
pub fn value_text(v: &toml::Value) -> String {
    v.to_string()
}

/// A value as a CSV cell or a label shows it (strings without their quotes).
pub fn value_label(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SweepSpec {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_product_of_grid_paired_and_seeds() {
        let s = parse(
            r#"grid = { "a" = [1, 2], "b" = [3, 4, 5] }
               paired = { "o" = ["sgd", "adam"], "lr" = [0.1, 0.01] }
               seeds = 3"#,
        );
        assert_eq!(s.problem(), None);
        let settings = s.settings();
        assert_eq!(settings.len(), 2 * 3 * 2);
        let shown: Vec<String> = settings[1].iter().map(|(k, v)| format!("{k}={}", value_text(v))).collect::<Vec<_>>();
        assert_eq!(shown, ["a=1", "b=3", "lr=0.01", "o=\"adam\""]);
        assert_eq!(s.seed_list(10), [Some(10), Some(11), Some(12)]);
        assert_eq!(s.keys(), ["a", "b", "lr", "o"]);
    }

    #[test]
    fn unequal_pairs_and_empty_axes_are_refused() {
        assert!(parse(r#"paired = { "o" = ["sgd"], "lr" = [0.1, 0.01] }"#).problem().unwrap().contains("equal"));
        assert!(parse(r#"grid = { "a" = [] }"#).problem().unwrap().contains("no values"));
        assert_eq!(
            parse(r#"grid = { "a" = [0.1, 0.2, 0.10] }"#).problem().unwrap(),
            "the axis \"a\" lists 0.1 twice; list each value once"
        );
        assert_eq!(parse(r#"paired = { "o" = ["sgd", "sgd"], "lr" = [0.1, 0.01] }"#).problem(), None);
        assert!(parse("seeds = 0").problem().is_some());
        assert_eq!(parse("seeds = [4, 9]").seed_list(0), [Some(4), Some(9)]);
        assert_eq!(parse("").settings().len(), 1);
        // Counted before any point is listed: no allocation of 10^30 settings.
        let huge = parse(
            r#"grid = { "a" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "b" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }
                            seeds = 1001"#,
        );
        assert_eq!(
            huge.problem().unwrap(),
            "the sweep has 100100 runs (\"a\" 10 × \"b\" 10 × 1001 seeds); at most 100000 are planned at once: \
             split it into several sweeps"
        );
        assert_eq!(
            parse(
                r#"grid = { "a" = [1, 2] }
                            seeds = 50000"#
            )
            .problem(),
            None
        );
        let overflow = parse("seeds = 18446744073709551615\ngrid = { \"a\" = [1, 2] }").problem().unwrap();
        assert!(overflow.starts_with("the sweep has more than 2^64 runs"), "{overflow}");
        assert!(parse("seeds = 100001").problem().unwrap().starts_with("the sweep has 100001 runs (100001 seeds)"));
    }

    #[test]
    fn seed_beside_seeds_and_sweep_keys_cannot_be_swept() {
        let s = parse(
            r#"grid = { "seed" = [1, 2], "sweep.seeds" = [1] }
                         seeds = 2"#,
        );
        assert!(s.key_problem("seed").unwrap().starts_with("sweeping `seed` conflicts with `seeds`"));
        assert!(s.key_problem("sweep.seeds").unwrap().starts_with("sweep.* keys cannot be swept"));
        assert_eq!(s.key_problem("train.lr"), None);
        assert_eq!(parse("").key_problem("seed"), None, "without `seeds`, the seed is an axis like any");
    }

    #[test]
    fn seeds_errors_say_what_seeds_takes() {
        let err = |text: &str| toml::from_str::<SweepSpec>(text).unwrap_err().message().to_string();
        let expected = "a number of seeds (`seeds = 5`) or a list of seeds (`seeds = [1, 7, 42]`)";
        assert_eq!(err("seeds = -1"), format!("seeds: expected {expected}, found -1"));
        assert_eq!(err("seeds = 2.5"), format!("invalid type: floating point `2.5`, expected {expected}"));
        assert_eq!(err("seeds = \"3\""), format!("invalid type: string \"3\", expected {expected}"));
        assert_eq!(err("seeds = [1, -2]"), "seeds: a seed is at least 0, found -2");
        assert!(err("seeds = [1, \"x\"]").contains("expected a seed (an integer of at least 0)"));
        assert!(matches!(parse("seeds = 3").seeds, Some(Seeds::Count(3))));
    }
}
