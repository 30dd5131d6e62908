//! The HTTP side: one background thread answers requests one at a time (a page polls
//! twice a second; nothing here is slow), GET and HEAD only, with fixed headers that keep
//! the browser from caching, sniffing or loading anything from elsewhere.

use super::folders::Watched;
use super::routes::{host_allowed, route, Refusal, Route};
use super::rows::rows_after;
use crate::error::{Error, Result};
use serde_json::json;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tiny_http::{Header, Method, Request, Response, Server};

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");

/// Scripts and requests only from this server, no frames, no forms, no plugins; the
/// page's own styles are inline. `data:` images: the page's empty icon.
const POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; \
                      img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A server answering in its own thread until the process ends (the run's end, or
/// Ctrl-C for `runner watch`).
pub struct LiveServer {
    addr: SocketAddr,
    server: Arc<Server>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LiveServer {
    /// `flag` is the option `addr` came from, named in the errors.
    pub fn start(flag: &str, addr: SocketAddr, watched: Watched) -> Result<LiveServer> {
        let listener =
            TcpListener::bind(addr).map_err(|e| Error::Usage(format!("{flag} {addr}: cannot listen there: {e}")))?;
        let bound = listener.local_addr().map_err(|e| Error::Usage(format!("{flag} {addr}: {e}")))?;
        let server = Server::from_listener(listener, None)
            .map_err(|e| Error::Usage(format!("{flag} {addr}: cannot serve there: {e}")))?;
        let server = Arc::new(server);
        let answering = Arc::clone(&server);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let loopback = bound.ip().is_loopback();
        let thread = std::thread::Builder::new()
            .name("live view".into())
            .spawn(move || {
                let mut watched = watched;
                loop {
                    match answering.recv() {
                        Ok(request) => answer(request, &mut watched, loopback),
                        Err(_) if stopping.load(Ordering::SeqCst) => break,
                        // A failed accept (a client gone at once, no file descriptor
                        // left for a moment) is no reason to stop serving.
                        Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                    }
                }
            })
            .map_err(|e| Error::Usage(format!("cannot start the live view's thread: {e}")))?;
        Ok(LiveServer { addr: bound, server, stop, thread: Some(thread) })
    }

    /// `http://HOST:PORT/`, with the port actually bound (port 0 picks one).
    pub fn url(&self) -> String {
        match self.addr {
            SocketAddr::V4(a) if a.ip().is_unspecified() => format!("http://127.0.0.1:{}/", a.port()),
            SocketAddr::V6(a) if a.ip().is_unspecified() => format!("http://[::1]:{}/", a.port()),
            a => format!("http://{a}/"),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers until the process ends (`runner watch`).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for LiveServer {
    /// Stops answering (the run is over; tests start and stop servers in one process).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    // Every name and value here is a fixed ASCII string, which `from_bytes` accepts.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a fixed ASCII header")
}

fn answer(request: Request, watched: &mut Watched, loopback: bool) {
    let (status, content_type, body) = respond(&request, watched, loopback);
    let mut response = Response::from_data(body.into_bytes())
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-store"))
        .with_header(header("X-Content-Type-Options", "nosniff"))
        .with_header(header("Referrer-Policy", "no-referrer"))
        .with_header(header("Content-Security-Policy", POLICY));
    if status == 405 {
        response = response.with_header(header("Allow", "GET, HEAD"));
    }
    // A client that went away is no concern of the run's.
    let _ = request.respond(response);
}

/// Status, content type and body (tiny_http leaves the body out for HEAD).
fn respond(request: &Request, watched: &mut Watched, loopback: bool) -> (u16, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    const JSON: &str = "application/json";
    if !matches!(request.method(), Method::Get | Method::Head) {
        return (405, TEXT, "only GET and HEAD\n".into());
    }
    let host = request.headers().iter().find(|h| h.field.equiv("Host")).map(|h| h.value.as_str());
    if !host_allowed(host, loopback) {
        return (403, TEXT, "this server answers only to localhost and 127.0.0.1\n".into());
    }
    match route(request.url()) {
        Ok(Route::Page) => (200, "text/html; charset=utf-8", PAGE.into()),
        Ok(Route::Script) => (200, "text/javascript; charset=utf-8", SCRIPT.into()),
        Ok(Route::Runs) => {
            let runs: Vec<_> =
                watched.runs().into_iter().map(|r| json!({"label": r.label, "state": r.state})).collect();
            (200, JSON, json!({"title": watched.title(), "kind": watched.kind(), "runs": runs}).to_string())
        }
        Ok(Route::Metrics { run, from }) => match watched.runs().into_iter().nth(run) {
            Some(r) => (200, JSON, rows_after(r.dir.as_deref(), from).to_string()),
            None => (404, TEXT, format!("no run {run}\n")),
        },
        Err(Refusal::NotFound) => (404, TEXT, "not found\n".into()),
        Err(Refusal::BadQuery(why)) => (400, TEXT, format!("{why}\n")),
    }
}
