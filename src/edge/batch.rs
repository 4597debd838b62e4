//! Per-isolate batches for work that must reach a Durable Object but never waits for it: usage
//! records and stream leases. The request that opens a batch keeps the isolate alive until the
//! batch is sent (its `wait_until`); later requests only add to it. They must not await the
//! shared send: a task woken by another request's timer runs in that request's context, and
//! anything it started there would die with that request.

use futures::future::LocalBoxFuture;
use futures::FutureExt;
use std::cell::RefCell;
use std::future::Future;
use std::thread::LocalKey;
use std::time::Duration;
use worker::Delay;

/// A batch still open this long belongs to a request context the runtime cancelled: the next
/// item opens a new batch (both users make a late second send harmless).
const STALE_MS: f64 = 30_000.0;

pub struct Batch<T> {
    items: Vec<T>,
    opened_ms: Option<f64>,
}

impl<T> Batch<T> {
    pub const fn new() -> Self {
        Batch { items: Vec::new(), opened_ms: None }
    }
}

/// Add `item` to the batch in `cell`. The item that opens a batch gets the future that sends it
/// `delay_ms` later (whatever has been added by then) with `send`; the caller keeps it alive.
pub fn push<T: 'static, F, Fut>(cell: &'static LocalKey<RefCell<Batch<T>>>, item: T, delay_ms: u64, send: F) -> Option<LocalBoxFuture<'static, ()>>
where
    F: FnOnce(Vec<T>) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let now = js_sys::Date::now();
    cell.with(|b| {
        let mut b = b.borrow_mut();
        b.items.push(item);
        if b.opened_ms.is_some_and(|t| now - t < STALE_MS) {
            return None;
        }
        b.opened_ms = Some(now);
        Some(
            async move {
                Delay::from(Duration::from_millis(delay_ms)).await;
                let items = cell.with(|b| {
                    let mut b = b.borrow_mut();
                    b.opened_ms = None;
                    std::mem::take(&mut b.items)
                });
                send(items).await;
            }
            .boxed_local(),
        )
    })
}

/// Drop items still waiting in the batch (e.g. a record deleted before its write was sent).
pub fn retain<T>(cell: &'static LocalKey<RefCell<Batch<T>>>, keep: impl FnMut(&T) -> bool) {
    cell.with(|b| b.borrow_mut().items.retain(keep));
}
