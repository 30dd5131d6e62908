// mimalloc for small blocks, glibc for large ones: see runner::alloc.
#[global_allocator]
static ALLOC: runner::alloc::Allocator = runner::alloc::Allocator;

fn main() {
    runner::alloc::configure();
    // CPU runs execute on a rayon worker (`experiment::execute`): give the workers the
    // main thread's 8 MiB of stack rather than 2 MiB (untouched stack costs no memory).
    // The thread count still comes from RAYON_NUM_THREADS or the cores; a pool that
    // cannot be built here is built by rayon on first use with its defaults.
    let _ = rayon::ThreadPoolBuilder::new().stack_size(8 << 20).build_global();
    if let Err(e) = runner::cli::main_with(std::env::args().collect()) {
        eprintln!("error: {}", e.rendered());
        std::process::exit(e.exit_code());
    }
}
