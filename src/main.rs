// mimalloc for small blocks, glibc for large ones: see runner::alloc.
#[global_allocator]
static ALLOC: runner::alloc::Allocator = runner::alloc::Allocator;

fn main() {
    runner::alloc::configure();
    if let Err(message) = runner::workers::start() {
        eprintln!("error: {message}");
        std::process::exit(2);
    }
    if let Err(e) = runner::cli::main_with(std::env::args().collect()) {
        eprintln!("error: {}", e.rendered());
        std::process::exit(e.exit_code());
    }
}
