fn main() {
    if let Err(e) = runner::cli::main_with(std::env::args().collect()) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
