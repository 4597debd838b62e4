//! Time, the one role every other piece of the core needs (the relay's idle deadlines, the
//! origin calls' first-byte deadlines, usage durations). A leaf: the relay and `origins::call`
//! depend on it without depending on the rest of the platform's ports.

use futures::future::LocalBoxFuture;

pub trait Timer {
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()>;
    fn now_ms(&self) -> u64;
}
