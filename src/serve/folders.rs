//! Which run folders the page shows, found afresh on every request: a run is written
//! under `.incomplete-<id>` and renamed to `<id>` when it ends, so a run is followed by
//! its id, not by a path that stops existing halfway through.

use crate::error::{Error, Result};
use crate::results::{Owner, HIDDEN_PREFIX, OWNER_FILE};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What the page shows.
pub enum Watched {
    /// One run.
    Run(RunPlace),
    /// Every run of a sweep folder, in its `runs.jsonl` order.
    Sweep(SweepFolder),
}

pub enum RunPlace {
    /// The run this process is about to write somewhere under a results root: found by
    /// the `owner` file of its hidden folder, which names this process.
    Own { root: PathBuf, me: Owner },
    /// The run `id` under `parent`, in progress (hidden) or finished.
    Named { parent: PathBuf, id: String },
}

pub struct SweepFolder {
    folder: PathBuf,
    /// `runs.jsonl` as last read (its length and time, and its runs), read again
    /// only when it changes: each of its lines holds a whole spec.
    list: Option<(u64, Option<SystemTime>, Vec<SweepRun>)>,
}

struct SweepRun {
    id: String,
    label: String,
}

/// A run as it is at this moment.
pub struct RunNow {
    pub label: String,
    /// Its folder, where it has one yet.
    pub dir: Option<PathBuf>,
    /// `waiting`, `running`, `stopped` (its process is gone), or the manifest's status
    /// (`complete`, `interrupted`, `diverged`, `failed`).
    pub state: String,
}

impl Watched {
    /// The run this process will write under `root` (`runner run --serve`).
    pub fn own_run(root: &Path) -> Watched {
        Watched::Run(RunPlace::Own { root: root.to_path_buf(), me: Owner::this_process() })
    }

    pub fn sweep(folder: &Path) -> Watched {
        Watched::Sweep(SweepFolder { folder: folder.to_path_buf(), list: None })
    }

    /// What `runner watch FOLDER` names: a sweep folder (it has `runs.jsonl`) or a run
    /// folder, finished or still hidden.
    pub fn from_folder(path: &Path) -> Result<Watched> {
        let dir = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
        if !dir.is_dir() {
            return Err(Error::Usage(format!("{}: not a folder; give a run or sweep folder", path.display())));
        }
        if dir.join("runs.jsonl").is_file() {
            return Ok(Watched::sweep(&dir));
        }
        let is_run = ["metrics.csv", "spec.toml", "manifest.json", OWNER_FILE].iter().any(|f| dir.join(f).is_file());
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str())) else {
            return Err(not_a_run(path));
        };
        if !is_run {
            return Err(not_a_run(path));
        }
        let id = name.strip_prefix(HIDDEN_PREFIX).unwrap_or(name).to_string();
        Ok(Watched::Run(RunPlace::Named { parent: parent.to_path_buf(), id }))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Watched::Run(_) => "run",
            Watched::Sweep(_) => "sweep",
        }
    }

    /// The page's title: the run's or the sweep's folder name.
    pub fn title(&self) -> String {
        match self {
            Watched::Run(RunPlace::Own { .. }) => "a run starting".into(),
            Watched::Run(RunPlace::Named { parent, id }) => {
                format!("{} / {id}", parent.file_name().map(|n| n.to_string_lossy()).unwrap_or_default())
            }
            Watched::Sweep(s) => s.folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        }
    }

    /// The runs shown, in order: the page asks for a run's rows by its index here.
    pub fn runs(&mut self) -> Vec<RunNow> {
        match self {
            Watched::Run(place) => {
                if let RunPlace::Own { root, me } = place {
                    match find_own(root, me) {
                        Some((parent, id)) => *place = RunPlace::Named { parent, id },
                        None => return vec![RunNow { label: "starting".into(), dir: None, state: "waiting".into() }],
                    }
                }
                let RunPlace::Named { parent, id } = place else { return vec![] };
                vec![run_now(parent, id, id.clone())]
            }
            Watched::Sweep(s) => {
                let runs_dir = s.folder.join("runs");
                s.entries().iter().map(|r| run_now(&runs_dir, &r.id, r.label.clone())).collect()
            }
        }
    }
}

fn not_a_run(path: &Path) -> Error {
    Error::Usage(format!(
        "{}: neither a run folder (no metrics.csv, spec.toml or manifest.json) nor a sweep folder (no runs.jsonl)",
        path.display()
    ))
}

/// The folder of run `id` under `parent`: the hidden one while it is written, else the
/// finished one. Symbolic links are not followed (nothing outside the folder is read).
fn run_now(parent: &Path, id: &str, label: String) -> RunNow {
    let hidden = parent.join(format!("{HIDDEN_PREFIX}{id}"));
    let visible = parent.join(id);
    let (dir, state) = if is_real_dir(&hidden) {
        let owner = read_plain(&hidden.join(OWNER_FILE), 4096).and_then(|t| Owner::parse(&t));
        let state = match owner {
            Some(o) if o.is_gone() => "stopped",
            Some(_) => "running",
            // `finish` removes the owner file right before the rename.
            None => "finishing",
        };
        (Some(hidden), state.to_string())
    } else if is_real_dir(&visible) {
        let status = read_plain(&visible.join("manifest.json"), 1 << 20)
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|m| m.get("status")?.as_str().map(String::from));
        (Some(visible), status.unwrap_or_else(|| "unknown".into()))
    } else {
        (None, "waiting".into())
    };
    RunNow { label, dir, state }
}

fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Opens a file that is not a symbolic link (O_NOFOLLOW) for reading.
pub(super) fn open_plain(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// At most `limit` bytes of a plain file, as text.
fn read_plain(path: &Path, limit: u64) -> Option<String> {
    let mut text = String::new();
    open_plain(path).ok()?.take(limit).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The hidden run folder whose owner file names this process: directly under `root`
/// (a sweep's runs, `--run-id`) or one level down (`root/<spec name>/`).
fn find_own(root: &Path, me: &Owner) -> Option<(PathBuf, String)> {
    let hidden_in = |dir: &Path| -> Vec<(PathBuf, String)> {
        let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
        entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                Some((dir.to_path_buf(), name.strip_prefix(HIDDEN_PREFIX)?.to_string()))
            })
            .collect()
    };
    let subdirs = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path());
    let mut candidates = hidden_in(root);
    for dir in subdirs {
        candidates.extend(hidden_in(&dir));
    }
    candidates.into_iter().find(|(parent, id)| {
        let owner = parent.join(format!("{HIDDEN_PREFIX}{id}")).join(OWNER_FILE);
        read_plain(&owner, 4096).and_then(|t| Owner::parse(&t)).as_ref() == Some(me)
    })
}

impl SweepFolder {
    fn entries(&mut self) -> &[SweepRun] {
        let path = self.folder.join("runs.jsonl");
        let stamp = std::fs::symlink_metadata(&path).ok().map(|m| (m.len(), m.modified().ok()));
        let fresh = matches!((&self.list, stamp), (Some((len, time, _)), Some((l, t))) if *len == l && *time == t);
        if !fresh {
            let runs = read_plain(&path, 256 << 20).map(|t| parse_runs(&t)).unwrap_or_default();
            self.list = stamp.map(|(len, time)| (len, time, runs));
        }
        self.list.as_ref().map_or(&[], |(_, _, runs)| runs)
    }
}

/// `runs.jsonl`'s runs, labelled by their swept values and seed. A line whose id could
/// name anything but a folder right inside `runs/` is left out.
fn parse_runs(text: &str) -> Vec<SweepRun> {
    text.lines()
        .filter_map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            let id = v.get("id")?.as_str()?;
            let safe = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !safe {
                return None;
            }
            let mut label: Vec<String> = v
                .get("values")
                .and_then(|x| x.as_object())
                .map(|o| o.iter().map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or(&x.to_string()))).collect())
                .unwrap_or_default();
            if let Some(seed) = v.get("seed").and_then(|s| s.as_u64()) {
                label.push(format!("seed={seed}"));
            }
            Some(SweepRun { id: id.to_string(), label: label.join(" ") })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_line_with_a_path_for_an_id_is_left_out() {
        let text = concat!(
            r#"{"id":"0a1b2c3d4e5f","seed":3,"values":{"train.lr":"0.1"}}"#,
            "\n",
            r#"{"id":"../../etc","seed":1,"values":{}}"#,
            "\n",
            r#"{"id":"/abs","seed":1}"#,
            "\nnot json\n",
            r#"{"id":"..","seed":1}"#,
            "\n"
        );
        let runs = parse_runs(text);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].id, "0a1b2c3d4e5f");
        assert_eq!(runs[0].label, "train.lr=0.1 seed=3");
    }

    #[test]
    fn a_hidden_run_is_followed_through_its_rename() {
        let tmp = tempfile::tempdir().unwrap();
        let hidden = tmp.path().join(".incomplete-r1");
        std::fs::create_dir(&hidden).unwrap();
        std::fs::write(hidden.join(OWNER_FILE), Owner::this_process().to_text()).unwrap();
        std::fs::write(hidden.join("metrics.csv"), "step,epoch,split,loss\n").unwrap();
        let mut w = Watched::from_folder(&hidden).unwrap();
        let now = &w.runs()[0];
        assert_eq!(
            (now.dir.as_deref(), now.state.as_str()),
            (Some(hidden.canonicalize().unwrap().as_path()), "running")
        );
        std::fs::remove_file(hidden.join(OWNER_FILE)).unwrap();
        std::fs::write(hidden.join("manifest.json"), r#"{"status":"complete"}"#).unwrap();
        std::fs::rename(&hidden, tmp.path().join("r1")).unwrap();
        let now = &w.runs()[0];
        assert_eq!(now.state, "complete");
        assert_eq!(now.dir.as_deref(), Some(tmp.path().join("r1").canonicalize().unwrap().as_path()));
    }

    #[test]
    fn this_process_finds_its_own_hidden_run_and_no_other() {
        let tmp = tempfile::tempdir().unwrap();
        let other = tmp.path().join("xor/.incomplete-a");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join(OWNER_FILE), "pid 1\nstart 5\nhost elsewhere\n").unwrap();
        let mut w = Watched::own_run(tmp.path());
        assert_eq!(w.runs()[0].state, "waiting");
        let mine = tmp.path().join("xor/.incomplete-b");
        std::fs::create_dir_all(&mine).unwrap();
        std::fs::write(mine.join(OWNER_FILE), Owner::this_process().to_text()).unwrap();
        let runs = w.runs();
        assert_eq!(runs[0].dir.as_deref(), Some(mine.as_path()));
        assert_eq!(runs[0].label, "b");
    }

    #[test]
    fn a_sweep_run_folder_that_is_a_symbolic_link_is_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let sweep = tmp.path().join("sweep");
        std::fs::create_dir_all(sweep.join("runs")).unwrap();
        std::fs::write(sweep.join("runs.jsonl"), "{\"id\":\"abc\",\"seed\":1}\n{\"id\":\"def\",\"seed\":2}\n").unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, sweep.join("runs/abc")).unwrap();
        std::fs::create_dir(sweep.join("runs/def")).unwrap();
        let mut w = Watched::from_folder(&sweep).unwrap();
        let runs = w.runs();
        assert_eq!(runs.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(), ["seed=1", "seed=2"]);
        assert_eq!((runs[0].dir.is_none(), runs[0].state.as_str()), (true, "waiting"));
        assert!(runs[1].dir.as_ref().is_some_and(|d| d.ends_with("runs/def")));
    }

    #[test]
    fn a_folder_that_is_neither_a_run_nor_a_sweep_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let e = Watched::from_folder(tmp.path()).err().unwrap();
        assert!(e.to_string().contains("neither a run folder"), "{e}");
        assert_eq!(e.exit_code(), 2);
        let e = Watched::from_folder(&tmp.path().join("missing")).err().unwrap();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("missing"), "{e}");
    }
}
