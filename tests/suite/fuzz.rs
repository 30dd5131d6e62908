//! Seeded mutations of every shipped spec, each checked in process (the check path:
//! parse, validate, size, load the data, build the graph), asserting that none panics.
//! A mutation deletes, duplicates or swaps lines, swaps values between keys, puts an
//! extreme in place of a number (0, -1, ±1e308, nan, inf, 2^64, 10^12, …) or a huge
//! string in place of a value, or cuts the file at a random byte.
//!
//! In process an abort (a huge allocation) cannot be caught, so the memory limit is
//! set low for this thread: whatever the estimate lets through is small. The seed is
//! printed, and `RUNNER_FUZZ_SEED` replays a run (`RUNNER_FUZZ_CASES` runs more cases).

use crate::common::root;
use std::path::{Path, PathBuf};

const CASES: usize = 3000;
const DEFAULT_SEED: u64 = 7;
const EXTREMES: [&str; 14] = [
    "0",
    "-1",
    "1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "18446744073709551616",
    "9223372036854775807",
    "1000000000000",
    "4294967296",
    "0.5",
    "1e-320",
];

/// splitmix64: enough randomness for mutations, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The value part of a `key = value` line, as (start, end) byte offsets.
fn value_range(line: &str) -> Option<(usize, usize)> {
    let eq = line.find('=')?;
    if line.trim_start().starts_with('#') {
        return None;
    }
    let start = eq + 1 + (line.len() - eq - 1 - line[eq + 1..].trim_start().len());
    let end = line.find(" #").filter(|e| *e > start).unwrap_or(line.len());
    Some((start, end))
}

/// Byte ranges of the numbers in `text` (digits, with a sign, point and exponent).
fn numbers(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'));
        if starts {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_digit() || matches!(b[j], b'.' | b'e' | b'E' | b'-' | b'+' | b'_')) {
                j += 1;
            }
            out.push((i, j));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for _ in 0..1 + rng.below(3) {
        let n = lines.len().max(1);
        match rng.below(7) {
            0 if !lines.is_empty() => {
                lines.remove(rng.below(n));
            }
            1 if !lines.is_empty() => {
                let i = rng.below(n);
                let copy = lines[i].clone();
                lines.insert(rng.below(n), copy);
            }
            2 => {
                let with_values: Vec<usize> = (0..lines.len()).filter(|i| value_range(&lines[*i]).is_some()).collect();
                if with_values.len() >= 2 {
                    let a = with_values[rng.below(with_values.len())];
                    let b = with_values[rng.below(with_values.len())];
                    let (sa, ea) = value_range(&lines[a]).unwrap();
                    let (sb, eb) = value_range(&lines[b]).unwrap();
                    let va = lines[a][sa..ea].to_string();
                    let vb = lines[b][sb..eb].to_string();
                    lines[a].replace_range(sa..ea, &vb);
                    if a != b {
                        lines[b].replace_range(sb..eb, &va);
                    }
                }
            }
            3 | 4 => {
                let joined = lines.join("\n");
                let nums = numbers(&joined);
                if !nums.is_empty() {
                    let (s, e) = nums[rng.below(nums.len())];
                    let mut out = joined.clone();
                    out.replace_range(s..e, EXTREMES[rng.below(EXTREMES.len())]);
                    lines = out.lines().map(String::from).collect();
                }
            }
            5 => {
                let with_values: Vec<usize> = (0..lines.len()).filter(|i| value_range(&lines[*i]).is_some()).collect();
                if !with_values.is_empty() {
                    let a = with_values[rng.below(with_values.len())];
                    let (s, e) = value_range(&lines[a]).unwrap();
                    let huge = format!("\"{}\"", "x".repeat(1 + rng.below(70_000)));
                    lines[a].replace_range(s..e, &huge);
                }
            }
            _ => {
                let joined = lines.join("\n");
                let mut cut = rng.below(joined.len() + 1);
                while !joined.is_char_boundary(cut) {
                    cut -= 1;
                }
                lines = joined[..cut].lines().map(String::from).collect();
            }
        }
    }
    lines.join("\n") + "\n"
}

/// A tiny MNIST-format folder (raw IDX), so the MNIST specs check in milliseconds.
fn write_small_mnist(dir: &Path, rng: &mut Rng) {
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, count) in [("train", 48u32), ("t10k", 16)] {
        let mut images = vec![0, 0, 8, 3];
        for d in [count, 28, 28] {
            images.extend(d.to_be_bytes());
        }
        images.extend((0..count * 784).map(|_| rng.next() as u8));
        let mut labels = vec![0, 0, 8, 1];
        labels.extend(count.to_be_bytes());
        labels.extend((0..count).map(|i| (i % 10) as u8));
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
}

/// Each distinct panic message once, with how often it came and its first spec (long
/// lines cut, so a huge-string case stays readable).
fn report(panics: &[(String, String, String)]) -> String {
    let mut seen: Vec<(&str, usize)> = vec![];
    let mut out = String::new();
    for (message, case, spec) in panics {
        if let Some(entry) = seen.iter_mut().find(|(m, _)| *m == message.as_str()) {
            entry.1 += 1;
            continue;
        }
        seen.push((message, 1));
        let lines: Vec<String> = spec.lines().map(|l| l.chars().take(100).collect()).collect();
        out += &format!("{case}: {message}\n--- mutated spec ---\n{}\n---\n", lines.join("\n"));
    }
    let counts: Vec<String> = seen.iter().map(|(m, n)| format!("{n} × {m}")).collect();
    format!("{out}\ncounts:\n{}", counts.join("\n"))
}

fn shipped_specs() -> Vec<(String, String)> {
    let dir = root().join("experiments");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    specs.sort();
    specs
        .iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(p).unwrap()))
        .collect()
}

#[test]
fn mutated_specs_never_panic_the_check_path() {
    let seed = std::env::var("RUNNER_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED);
    let cases = std::env::var("RUNNER_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(CASES);
    let mut rng = Rng(seed);
    // The specs' relative paths (`../data/mnist-10k`) resolve inside the temp folder.
    let tmp = tempfile::tempdir().unwrap();
    let experiments = tmp.path().join("experiments");
    std::fs::create_dir_all(&experiments).unwrap();
    write_small_mnist(&tmp.path().join("data/mnist-10k"), &mut rng);
    runner::experiment::budget::set_thread_limit(Some(1 << 30));
    let specs = shipped_specs();
    assert!(!specs.is_empty());
    let started = std::time::Instant::now();
    let mut panics: Vec<(String, String, String)> = vec![];
    let mut accepted = 0;
    for case in 0..cases {
        let (name, text) = &specs[case % specs.len()];
        let mutated = mutate(text, &mut rng);
        let path = experiments.join(name);
        std::fs::write(&path, &mutated).unwrap();
        let result = std::panic::catch_unwind(|| runner::experiment::check(&path, &[], None));
        match result {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(e)) => assert!(!e.to_string().is_empty(), "case {case}: an empty error"),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panics.push((message, format!("case {case} ({name})"), mutated));
            }
        }
    }
    runner::experiment::budget::set_thread_limit(None);
    eprintln!(
        "fuzz: seed {seed}, {cases} cases ({accepted} accepted), {} panics, {:.1} s",
        panics.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(panics.is_empty(), "{} panics (replay with RUNNER_FUZZ_SEED={seed}):\n{}", panics.len(), report(&panics));
    // Mutations that keep a spec valid exist (a duplicated comment, a swapped equal
    // value): a run where nothing is accepted means the harness itself is broken.
    assert!(accepted > 0, "no mutated spec was accepted; the harness is not reaching the check path");
}
