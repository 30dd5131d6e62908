// mimalloc reuses freed blocks instead of returning them to the OS: with glibc, every
// large activation buffer was a fresh mmap and a round of page faults.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its header's enum; the Rust bindings name no
/// constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Keep freed pages instead of handing them back to the OS 10 ms later: a training
    // step frees and re-allocates the same large buffers, and re-faulting them cost ~9%.
    // SAFETY: setting an option is always allowed; this one only changes when memory is purged.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    // No transparent huge pages: with them a kept page is resident in 2 MiB pieces, and
    // mnist_cnn peaked at 118–125 MiB instead of 94–101 MiB, for no measured speed
    // (8,300–8,800 images/s either way). mimalloc reads its own `allow_thp` option before
    // main, so the process flag is set here instead (Linux only; elsewhere nothing to do).
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only changes how this
    // process's future page faults are served; a failure (an old kernel) is harmless.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    if let Err(e) = runner::cli::main_with(std::env::args().collect()) {
        eprintln!("error: {}", e.rendered());
        std::process::exit(e.exit_code());
    }
}
