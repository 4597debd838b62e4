//! Logging from the core, wherever it runs (a leaf: anything may log without depending on `lib.rs`).

/// A log line from the core: `console.log` in the Worker, stderr natively.
pub fn platform_log(msg: &str) {
    #[cfg(target_arch = "wasm32")]
    web_log(msg);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{msg}");
}

#[cfg(target_arch = "wasm32")]
fn web_log(msg: &str) {
    worker::console_log!("{}", msg);
}
