//! The only requests the server answers, read from the request line. A path is compared
//! as the exact text the client sent: nothing in it is decoded, joined to a folder or
//! opened, so `..`, `%2e%2e` or an absolute path is just a path that is not found.

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// The page.
    Page,
    /// Its script.
    Script,
    /// The runs shown and how each stands.
    Runs,
    /// Run `run`'s metric rows after byte `from` of its metrics.csv.
    Metrics { run: usize, from: u64 },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 404
    NotFound,
    /// 400, with why.
    BadQuery(String),
}

pub fn route(url: &str) -> Result<Route, Refusal> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let fixed =
        |r: Route| if query.is_empty() { Ok(r) } else { Err(Refusal::BadQuery("this path takes no query".into())) };
    match path {
        "/" | "/index.html" => fixed(Route::Page),
        "/page.js" => fixed(Route::Script),
        "/runs.json" => fixed(Route::Runs),
        "/metrics.json" => {
            let (mut run, mut from) = (0, 0);
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let bad = || Refusal::BadQuery(format!("{key}={value}: not a whole number"));
                match key {
                    "run" => run = value.parse().map_err(|_| bad())?,
                    "from" => from = value.parse().map_err(|_| bad())?,
                    _ => return Err(Refusal::BadQuery(format!("unknown parameter {key:?} (run, from)"))),
                }
            }
            Ok(Route::Metrics { run, from })
        }
        _ => Err(Refusal::NotFound),
    }
}

/// Whether a request's `Host` header may be answered by a server bound to a loopback
/// address: only loopback names are, so a web page elsewhere whose name was made to
/// point at 127.0.0.1 (DNS rebinding) cannot read the run through the visitor's browser.
/// A server bound to another address was asked to be reachable: any host goes.
pub fn host_allowed(host: Option<&str>, bound_to_loopback: bool) -> bool {
    if !bound_to_loopback {
        return true;
    }
    let Some(host) = host else { return false };
    let name = match host.rsplit_once(':') {
        // `[::1]:8097`, `127.0.0.1:8097`, `localhost:8097`; a bare `[::1]` has no port.
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !host.ends_with(']') => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_paths_are_routes() {
        assert_eq!(route("/"), Ok(Route::Page));
        assert_eq!(route("/page.js"), Ok(Route::Script));
        assert_eq!(route("/runs.json"), Ok(Route::Runs));
        assert_eq!(route("/metrics.json?run=2&from=120"), Ok(Route::Metrics { run: 2, from: 120 }));
        assert_eq!(route("/metrics.json"), Ok(Route::Metrics { run: 0, from: 0 }));
        for path in [
            "/../metrics.csv",
            "/%2e%2e/%2e%2e/etc/passwd",
            "/etc/passwd",
            "//etc/passwd",
            "/metrics.csv",
            "/runs/0/metrics.csv",
            "/page.js/../runs.json",
            "/PAGE.JS",
            "",
            "*",
        ] {
            assert_eq!(route(path), Err(Refusal::NotFound), "{path}");
        }
        assert!(matches!(route("/metrics.json?run=-1"), Err(Refusal::BadQuery(_))));
        assert!(matches!(route("/metrics.json?run=../x"), Err(Refusal::BadQuery(_))));
        assert!(matches!(route("/metrics.json?path=/etc/passwd"), Err(Refusal::BadQuery(_))));
        assert!(matches!(route("/?x=1"), Err(Refusal::BadQuery(_))));
    }

    #[test]
    fn a_loopback_server_answers_loopback_hosts_only() {
        for host in ["127.0.0.1:8097", "localhost:1", "LOCALHOST", "[::1]:80", "[::1]", "127.1.2.3:5"] {
            assert!(host_allowed(Some(host), true), "{host}");
        }
        for host in ["evil.example:8097", "evil.example", "10.0.0.1:80", "localhost.evil.example:80", ""] {
            assert!(!host_allowed(Some(host), true), "{host}");
        }
        assert!(!host_allowed(None, true));
        assert!(host_allowed(Some("evil.example"), false));
    }
}
