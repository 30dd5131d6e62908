//! Who is writing a hidden `.incomplete-*` folder: a small `owner` file with the
//! process id, its start time and the host, so a folder left by a killed process can
//! be told from one still being written, and removed.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const OWNER_FILE: &str = "owner";
pub const HIDDEN_PREFIX: &str = ".incomplete-";

/// A folder without an owner file is stale only once it is this old: a run writes the
/// file right after creating its folder, so a younger one may be a run starting now.
const UNOWNED_GRACE: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    /// Field 22 of /proc/<pid>/stat (clock ticks after boot), so a reused pid is not
    /// taken for the owner; None where /proc is missing.
    pub start: Option<u64>,
    pub host: Option<String>,
}

impl Owner {
    pub fn this_process() -> Owner {
        let pid = std::process::id();
        Owner { pid, start: start_time(pid), host: host_name() }
    }

    pub fn to_text(&self) -> String {
        let mut out = format!("pid {}\n", self.pid);
        if let Some(s) = self.start {
            out += &format!("start {s}\n");
        }
        if let Some(h) = &self.host {
            out += &format!("host {h}\n");
        }
        out
    }

    pub fn parse(text: &str) -> Option<Owner> {
        let mut owner = Owner { pid: 0, start: None, host: None };
        let mut has_pid = false;
        for line in text.lines() {
            let (key, value) = line.split_once(' ')?;
            match key {
                "pid" => {
                    owner.pid = value.parse().ok()?;
                    has_pid = true;
                }
                "start" => owner.start = Some(value.parse().ok()?),
                "host" => owner.host = Some(value.to_string()),
                _ => {}
            }
        }
        has_pid.then_some(owner)
    }

    /// Whether the owner is certainly gone: same host, and its pid is free or now
    /// belongs to a process started at another time. Anything that cannot be checked
    /// (another host, no /proc) counts as alive.
    pub fn is_gone(&self) -> bool {
        if self.host.is_none() || self.host != host_name() || !Path::new("/proc/self/stat").exists() {
            return false;
        }
        match start_time(self.pid) {
            None => true,
            Some(now) => self.start.is_some_and(|then| then != now),
        }
    }
}

/// Field 22 (starttime) of /proc/<pid>/stat. The second field, the command name, is
/// in parentheses and may hold spaces, so fields are counted after its last ')'.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards: field 22 is the 20th of them.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    Some(name.trim().to_string()).filter(|n| !n.is_empty())
}

/// Whether a hidden run folder was left by a process that is gone: its owner file
/// names a process of this host that has ended. A folder whose owner file is missing
/// or does not parse (cut short by a crash, edited by hand) cannot name its writer, so
/// it counts as gone only once nothing in it has changed for [`UNOWNED_GRACE`]: a run
/// writes the file right after creating its folder, and a live one keeps writing.
/// `runner list` shows exactly these as `killed`, and `runner clean` removes them.
pub fn is_stale(dir: &Path) -> bool {
    let owner = std::fs::read_to_string(dir.join(OWNER_FILE)).ok().and_then(|t| Owner::parse(&t));
    match owner {
        Some(o) => o.is_gone(),
        None => quiet_for(dir).is_some_and(|quiet| quiet > UNOWNED_GRACE),
    }
}

/// How long since the folder or any file directly in it last changed; `None` when
/// that cannot be told (a time in the future, an unreadable folder).
fn quiet_for(dir: &Path) -> Option<Duration> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut newest = modified(dir)?;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        if let Some(t) = entry.metadata().ok().and_then(|m| m.modified().ok()) {
            newest = newest.max(t);
        }
    }
    newest.elapsed().ok()
}

/// Removes the hidden folders under `root` (as [`super::walk`] finds them, the ones
/// `runner list` shows) whose writer is gone; returns them. A missing root is nothing
/// to clean.
pub fn remove_stale(root: &Path) -> Result<Vec<PathBuf>> {
    remove_stale_where(root, |_| true)
}

/// As [`remove_stale`], but keeps the folders that hold a resume checkpoint: a run
/// starting beside a killed one must not take away what `runner resume` continues
/// (`runner clean` removes them).
pub fn remove_stale_unresumable(root: &Path) -> Result<Vec<PathBuf>> {
    remove_stale_where(root, |dir| !dir.join(super::RESUME_FILE).is_file())
}

fn remove_stale_where(root: &Path, removable: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for found in super::walk(root) {
        let super::Found::Hidden(path) = found else { continue };
        if is_stale(&path) && removable(&path) {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => removed.push(path),
                // Another cleaner got there first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_file_round_trips_and_this_process_is_alive() {
        let me = Owner::this_process();
        assert_eq!(Owner::parse(&me.to_text()), Some(me.clone()));
        assert!(!me.is_gone());
        if me.start.is_some() {
            let reused = Owner { start: me.start.map(|s| s + 1), ..me.clone() };
            assert!(reused.is_gone(), "a pid with another start time is another process");
            let elsewhere = Owner { host: Some(format!("{}-other", me.host.clone().unwrap_or_default())), ..reused };
            assert!(!elsewhere.is_gone(), "another host's process cannot be checked");
        }
        assert_eq!(Owner::parse("pid x\n"), None);
        assert_eq!(Owner::parse("host h\n"), None);
    }
}
