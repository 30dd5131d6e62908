//! `runner schema [--sweep] [-o FILE]`: the JSON Schema of the spec format (or of sweep
//! files), generated from the spec types, for editors (see `spec::schema`).

use crate::error::{Error, Result};
use crate::spec::{schema_text, SchemaKind};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// The schema of sweep files (`base = "spec.toml"` plus `[sweep]`) instead of specs.
    #[arg(long)]
    pub sweep: bool,
    /// Write the schema to this file instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(a: SchemaArgs) -> Result<()> {
    let text = schema_text(if a.sweep { SchemaKind::Sweep } else { SchemaKind::Spec });
    match a.output {
        Some(path) => std::fs::write(&path, text).map_err(|e| Error::io(&path, e)),
        // A reader that stops early (`runner schema | head`) is no error; `print!` would panic.
        None => match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(Error::Usage(format!("cannot write the schema to standard output: {e}")))
            }
            _ => Ok(()),
        },
    }
}
