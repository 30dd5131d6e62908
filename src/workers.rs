//! The process's worker threads (rayon's global pool), started before anything runs.
//!
//! The count comes from `RAYON_NUM_THREADS`, as rayon reads it, or from the cores. It is
//! checked here rather than left to rayon, which ignores a value it cannot parse (a run
//! then quietly uses every core) and tries to start any number given (a million threads
//! took minutes before the first step). A pool that cannot be started (a memory or
//! process limit) is an error naming the count, not a panic at first use.

/// More threads than this is a typing slip, not a machine: every run's work splits into
/// far fewer pieces.
pub const MAX_THREADS: usize = 1024;

/// The thread count `RAYON_NUM_THREADS` asks for: None for unset, empty or 0 (rayon's
/// "one per core").
pub fn requested(value: Option<&str>) -> Result<Option<usize>, String> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    match text.parse::<usize>() {
        Ok(0) => Ok(None),
        Ok(n) if n <= MAX_THREADS => Ok(Some(n)),
        _ => Err(format!("RAYON_NUM_THREADS={text}: not a thread count (1 to {MAX_THREADS}, or 0 for one per core)")),
    }
}

/// Starts the global pool: `RAYON_NUM_THREADS` threads (checked by [`requested`]) or
/// one per core. CPU runs execute on a worker (`experiment::execute`), so workers get
/// the main thread's 8 MiB of stack rather than rayon's 2 MiB (untouched stack costs no
/// memory).
pub fn start() -> Result<(), String> {
    let asked = requested(std::env::var("RAYON_NUM_THREADS").ok().as_deref())?;
    let threads = asked.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    rayon::ThreadPoolBuilder::new().num_threads(threads).stack_size(8 << 20).build_global().map_err(|e| {
        format!("cannot start {threads} worker threads ({e}): lower RAYON_NUM_THREADS or the process's limits")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_counts_are_checked() {
        assert_eq!(requested(None), Ok(None));
        assert_eq!(requested(Some("")), Ok(None));
        assert_eq!(requested(Some("0")), Ok(None));
        assert_eq!(requested(Some(" 4 ")), Ok(Some(4)));
        assert_eq!(requested(Some("1024")), Ok(Some(1024)));
        for bad in ["1025", "1000000", "-1", "abc", "2.5", "99999999999999999999"] {
            let e = requested(Some(bad)).unwrap_err();
            assert!(e.starts_with(&format!("RAYON_NUM_THREADS={bad}: not a thread count")), "{e}");
        }
    }
}
