//! `runner watch FOLDER`: the live view of a run folder (finished, or hidden and still
//! being written) or of a sweep folder, served until Ctrl-C.

use crate::error::Result;
use crate::serve::{self, Watched};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// A run folder (also a hidden `.incomplete-*` one in progress) or a sweep folder.
    pub folder: PathBuf,
    /// Where to listen: `PORT` or `HOST:PORT`; 127.0.0.1 and a free port by default.
    #[arg(long, value_name = "ADDR", conflicts_with = "serve")]
    pub addr: Option<String>,
    /// The same as --addr, under the name `runner run` and `runner sweep` give it.
    // A flag of its own rather than an alias of --addr: clap does not say which
    // spelling of an alias was typed, and an error should name the one the user wrote.
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<String>,
}

impl WatchArgs {
    /// The flag given (as typed) and its address text; the default when neither was.
    fn address(&self) -> (&'static str, &str) {
        match (&self.addr, &self.serve) {
            (_, Some(text)) => ("--serve", text),
            (Some(text), None) => ("--addr", text),
            (None, None) => ("--addr", "127.0.0.1:0"),
        }
    }
}

pub fn watch(a: WatchArgs) -> Result<()> {
    let (flag, text) = a.address();
    let addr = serve::parse_address(flag, text)?;
    let watched = Watched::from_folder(&a.folder)?;
    // Ctrl-C takes its default action and ends the process: there is nothing to save.
    serve::start(flag, addr, watched)?.wait();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        watch: WatchArgs,
    }

    fn parse(args: &[&str]) -> std::result::Result<WatchArgs, String> {
        Cli::try_parse_from([&["watch", "run"], args].concat()).map(|c| c.watch).map_err(|e| e.to_string())
    }

    #[test]
    fn an_address_error_names_the_flag_as_typed() {
        let serve = parse(&["--serve", "abc"]).unwrap();
        assert_eq!(serve.address(), ("--serve", "abc"));
        let e = watch(serve).unwrap_err().to_string();
        assert!(e.starts_with("--serve \"abc\": not an address;"), "{e}");
        let e = watch(parse(&["--addr", "abc"]).unwrap()).unwrap_err().to_string();
        assert!(e.starts_with("--addr \"abc\": not an address;"), "{e}");
        assert_eq!(parse(&[]).unwrap().address(), ("--addr", "127.0.0.1:0"));
        let both = parse(&["--addr", "1", "--serve", "2"]).err().unwrap();
        assert!(both.contains("cannot be used with"), "{both}");
    }
}
