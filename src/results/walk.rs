//! What a results folder holds, found the one way both `runner list` and `runner
//! clean` look: so every hidden folder `list` shows as `killed` is one `clean` finds.

use super::HIDDEN_PREFIX;
use std::path::{Path, PathBuf};

/// Results roots nest `<name>/<run>`, a sweep one level more; deeper is not searched.
const MAX_DEPTH: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A hidden `.incomplete-*` run folder: being written, or left by a killed run.
    Hidden(PathBuf),
    /// A folder holding manifest.json.
    Run(PathBuf),
    /// A sweep folder (holding sweep.csv); its runs are its own business.
    Sweep(PathBuf),
}

/// Every run, hidden run and sweep folder under `root`, in name order within a
/// folder. Unreadable folders are passed over.
pub fn walk(root: &Path) -> Vec<Found> {
    let mut out = Vec::new();
    walk_into(root, 0, &mut out);
    out
}

fn walk_into(dir: &Path, depth: usize, out: &mut Vec<Found>) {
    let Ok(listing) = std::fs::read_dir(dir) else { return };
    // Symbolic links are not followed: a link to `/` must not have `clean` search it.
    let mut children: Vec<PathBuf> =
        listing.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect();
    children.sort();
    for child in children {
        let file_name = child.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if file_name.starts_with(HIDDEN_PREFIX) {
            out.push(Found::Hidden(child));
        } else if child.join("manifest.json").is_file() {
            out.push(Found::Run(child));
        } else if child.join("sweep.csv").is_file() {
            out.push(Found::Sweep(child));
        } else if depth + 1 < MAX_DEPTH && !file_name.starts_with('.') {
            walk_into(&child, depth + 1, out);
        }
    }
}
