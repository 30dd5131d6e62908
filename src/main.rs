// mimalloc reuses freed blocks instead of returning them to the OS: with glibc, every
// large activation buffer was a fresh mmap and a round of page faults.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(e) = runner::cli::main_with(std::env::args().collect()) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
