//! The live view (`runner run SPEC --serve`, `runner sweep SPEC --serve`, `runner watch
//! FOLDER`): a read-only web page whose charts grow as a run records its metrics, for
//! one run or every run of a sweep.
//!
//! A background thread answers HTTP with `tiny_http` (small, synchronous, no async
//! runtime: the program is thread-based). The page and its script are compiled into the
//! binary, so nothing is fetched at run time. The URL never names a file: the server
//! knows a fixed list of paths, and a run is chosen by its index in the list the server
//! itself made from the watched folder (see [`folders`]). Every file it opens is a
//! fixed name inside that folder, opened without following a symbolic link.

mod address;
mod folders;
mod routes;
mod rows;
mod server;

pub use address::parse_address;
pub use folders::Watched;
pub use server::LiveServer;

use crate::error::Result;
use std::net::SocketAddr;

/// Listens on `addr` (from [`parse_address`]; port 0 picks a free one), starts answering
/// in a background thread and prints the page's URL on stderr. A port that cannot be
/// had is an error here, before any work starts, naming `flag` (the option the address
/// came from).
pub fn start(flag: &str, addr: SocketAddr, watched: Watched) -> Result<LiveServer> {
    let live = LiveServer::start(flag, addr, watched)?;
    eprintln!("serving the live view on {}", live.url());
    Ok(live)
}
