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
    if let Err(e) = runner::cli::main_with(std::env::args().collect()) {
        eprintln!("error: {}", bounded(&e.to_string()));
        std::process::exit(e.exit_code());
    }
}

/// The last guard on an error's length: a 60,000-character data path or CSV column name
/// echoed whole would bury the message. Each line keeps at most 240 characters, the
/// whole at most 3,000 bytes; messages that are already short pass unchanged.
fn bounded(message: &str) -> String {
    const LINE_CHARS: usize = 240;
    const TOTAL_BYTES: usize = 3000;
    if message.len() <= TOTAL_BYTES {
        return message.to_string();
    }
    let mut out = String::new();
    for line in message.lines() {
        let mut kept: String = line.chars().take(LINE_CHARS).collect();
        if kept.len() < line.len() {
            kept.push('…');
        }
        if out.len() + kept.len() + 1 > TOTAL_BYTES {
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&kept);
    }
    out
}
