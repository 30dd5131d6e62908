//! A headless Chromium for tests, driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: commands go in on the child's fd 3, answers and events
//! come out on fd 4, each a JSON message ended by a NUL byte). No crate and no network:
//! only the browser installed on the machine.
//!
//! API:
//! - `Browser::launch(test)` finds Chromium (`RUNNER_CHROMIUM`, else `chromium`,
//!   `chromium-browser`, `google-chrome`, `google-chrome-stable` on PATH) and starts it
//!   headless with a fresh profile. Where there is none it prints
//!   `skipped: <test>: no Chromium (apt-get install chromium)` on stderr and returns None,
//!   so a test begins with `let Some(mut b) = Browser::launch("name") else { return };`.
//! - `b.open(url)` loads a `file://` or `http://` URL and waits for its load event (the
//!   page's scripts have run their first turn). `file_url(path)` makes a `file://` URL.
//! - `b.eval(js)` evaluates an expression in the page and returns its value as JSON
//!   (promises are awaited); a thrown exception is returned as `Err(message)`.
//! - `b.wait_for(js, timeout)` evaluates `js` every 50 ms until it is truthy and returns
//!   that value, or None at the timeout (for pages that update themselves).
//! - `b.errors()` every console error, uncaught exception and failed load (a missing
//!   image, say) seen since launch, as text; `b.clear_errors()` forgets them.
//! - `b.screenshot(path)` saves the page as a PNG, creating the folder.
//!
//! Everything waits at most a few seconds, then fails with a message.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::io::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long one protocol command may take (page loads included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Browser {
    child: Child,
    to_browser: File,
    from_browser: Receiver<Value>,
    /// Events read while waiting for an answer, not yet looked at.
    pending: VecDeque<Value>,
    next_id: u64,
    session: String,
    errors: Vec<String>,
    _profile: tempfile::TempDir,
}

/// The Chromium to use, if any: `RUNNER_CHROMIUM`, else the first known name on PATH.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RUNNER_CHROMIUM") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// A `file://` URL for a local path (made absolute).
pub fn file_url(path: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut url = String::from("file://");
    for b in abs.to_string_lossy().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => url.push(b as char),
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
}

fn pipe() -> (i32, i32) {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2 failed");
    (fds[0], fds[1])
}

impl Browser {
    /// Starts headless Chromium, or prints why the test is skipped and returns None.
    pub fn launch(test: &str) -> Option<Browser> {
        let Some(exe) = find_chromium() else {
            eprintln!("skipped: {test}: no Chromium (apt-get install chromium)");
            return None;
        };
        Some(
            Browser::start(&exe).unwrap_or_else(|e| panic!("{test}: Chromium at {} did not start: {e}", exe.display())),
        )
    }

    fn start(exe: &Path) -> Result<Browser, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (cmd_read, cmd_write) = pipe();
        let (resp_read, resp_write) = pipe();
        let mut cmd = Command::new(exe);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            "--window-size=1000,800",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only async-signal-safe fcntl/dup2/close calls between fork and exec.
        // The pipe ends are first copied above 10 so that dup2 onto 3 and 4 (the ends
        // Chromium expects) never meets an end already there (dup2 of a descriptor onto
        // itself would keep its close-on-exec flag).
        unsafe {
            cmd.pre_exec(move || {
                let high_cmd = libc::fcntl(cmd_read, libc::F_DUPFD, 10);
                let high_resp = libc::fcntl(resp_write, libc::F_DUPFD, 10);
                if high_cmd < 0 || high_resp < 0 || libc::dup2(high_cmd, 3) < 0 || libc::dup2(high_resp, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(high_cmd);
                libc::close(high_resp);
                Ok(())
            });
        }
        let spawned = cmd.spawn();
        // SAFETY: each descriptor is owned here once; the child has its own copies.
        unsafe {
            libc::close(cmd_read);
            libc::close(resp_write);
        }
        let child = spawned.map_err(|e| e.to_string())?;
        // SAFETY: the descriptors come from pipe2 above and are owned by these Files only.
        let to_browser = unsafe { File::from_raw_fd(cmd_write) };
        let mut reader = unsafe { File::from_raw_fd(resp_read) };
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                let n = match reader.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.iter().position(|&b| b == 0) {
                    let msg: Vec<u8> = buf.drain(..=end).collect();
                    if let Ok(v) = serde_json::from_slice::<Value>(&msg[..msg.len() - 1]) {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            to_browser,
            from_browser: rx,
            pending: VecDeque::new(),
            next_id: 1,
            session: String::new(),
            errors: Vec::new(),
            _profile: profile,
        };
        let target = b.call_browser("Target.createTarget", json!({ "url": "about:blank" }))?;
        let target_id = target["targetId"].as_str().ok_or("no targetId")?.to_string();
        let attached = b.call_browser("Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }))?;
        b.session = attached["sessionId"].as_str().ok_or("no sessionId")?.to_string();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            b.call(domain, json!({}))?;
        }
        Ok(b)
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if session {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to_browser.write_all(&bytes).map_err(|e| format!("{method}: {e}"))?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let v = self.receive(deadline).map_err(|e| format!("{method}: {e}"))?;
            if v["id"].as_u64() == Some(id) {
                if let Some(err) = v.get("error") {
                    return Err(format!("{method}: {err}"));
                }
                return Ok(v["result"].clone());
            }
            self.note(&v);
            self.pending.push_back(v);
        }
    }

    fn receive(&mut self, deadline: Instant) -> Result<Value, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.from_browser.recv_timeout(left) {
            Ok(v) => Ok(v),
            Err(RecvTimeoutError::Timeout) => Err("timed out waiting for Chromium".into()),
            Err(RecvTimeoutError::Disconnected) => Err("Chromium closed the pipe".into()),
        }
    }

    /// Records an event that reports an error.
    fn note(&mut self, v: &Value) {
        match v["method"].as_str() {
            Some("Runtime.consoleAPICalled") if v["params"]["type"] == "error" => {
                let args = v["params"]["args"].as_array().cloned().unwrap_or_default();
                let text: Vec<String> = args
                    .iter()
                    .map(|a| a["value"].as_str().map(String::from).unwrap_or_else(|| a["description"].to_string()))
                    .collect();
                self.errors.push(format!("console.error: {}", text.join(" ")));
            }
            Some("Runtime.exceptionThrown") => {
                let d = &v["params"]["exceptionDetails"];
                let text = d["exception"]["description"].as_str().or(d["text"].as_str()).unwrap_or("?");
                self.errors.push(format!("uncaught: {text}"));
            }
            Some("Log.entryAdded") if v["params"]["entry"]["level"] == "error" => {
                let e = &v["params"]["entry"];
                self.errors.push(format!(
                    "{}: {} {}",
                    e["source"].as_str().unwrap_or("log"),
                    e["text"].as_str().unwrap_or(""),
                    e["url"].as_str().unwrap_or("")
                ));
            }
            _ => {}
        }
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.send(method, params, false)
    }

    fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.send(method, params, true)
    }

    /// Reads every event already waiting, noting errors.
    fn drain(&mut self) {
        while let Ok(v) = self.from_browser.try_recv() {
            self.note(&v);
            self.pending.push_back(v);
        }
        // Keep only recent events; nothing reads old ones.
        while self.pending.len() > 1000 {
            self.pending.pop_front();
        }
    }

    /// Loads `url` and waits for its load event.
    pub fn open(&mut self, url: &str) {
        self.pending.clear();
        let nav = self.call("Page.navigate", json!({ "url": url })).unwrap_or_else(|e| panic!("{url}: {e}"));
        if let Some(err) = nav.get("errorText") {
            panic!("{url}: {err}");
        }
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            if self.pending.iter().any(|v| v["method"] == "Page.loadEventFired") {
                break;
            }
            let v = self.receive(deadline).unwrap_or_else(|e| panic!("{url}: waiting for load: {e}"));
            self.note(&v);
            self.pending.push_back(v);
        }
    }

    /// The value of a JavaScript expression in the page (awaited if a promise).
    pub fn eval(&mut self, js: &str) -> Result<Value, String> {
        let r =
            self.call("Runtime.evaluate", json!({ "expression": js, "returnByValue": true, "awaitPromise": true }))?;
        self.drain();
        if let Some(d) = r.get("exceptionDetails") {
            let text = d["exception"]["description"].as_str().or(d["text"].as_str()).unwrap_or("exception");
            return Err(text.to_string());
        }
        Ok(r["result"]["value"].clone())
    }

    /// Evaluates `js` until it gives a truthy value (returned), or None after `timeout`.
    pub fn wait_for(&mut self, js: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(v) = self.eval(js) {
                let truthy = match &v {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    Value::Number(n) => n.as_f64() != Some(0.0),
                    Value::String(s) => !s.is_empty(),
                    _ => true,
                };
                if truthy {
                    return Some(v);
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Console errors, uncaught exceptions and failed loads seen so far.
    pub fn errors(&mut self) -> Vec<String> {
        self.drain();
        self.errors.clone()
    }

    pub fn clear_errors(&mut self) {
        self.drain();
        self.errors.clear();
    }

    /// Saves the whole page as a PNG at `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let r = self
            .call("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": true }))
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        let data = base64_decode(r["data"].as_str().expect("screenshot data"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call_browser_nowait("Browser.close");
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn call_browser_nowait(&mut self, method: &str) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(&json!({ "id": self.next_id, "method": method, "params": {} })).unwrap();
        self.next_id += 1;
        bytes.push(0);
        self.to_browser.write_all(&bytes)
    }
}

/// Standard base64 (the screenshot's encoding); padding and unknown bytes are skipped.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
