//! The streaming relay: upstream body -> line framing -> per-dialect transform -> client, one
//! upstream chunk at a time (never the whole answer). An idle deadline ends a stalled stream
//! with an in-band error. `on_finish` runs exactly once: when the stream ends, fails, or the
//! client goes away (the relay is dropped), so limits and usage are always settled.

use super::lines::{sse_data, LineFramer, DEFAULT_MAX_LINE};
use super::passthrough::{State, Transform};
use crate::net::{ByteStream, NativeBody};
use crate::types::Usage;
use futures::future::{select, Either, LocalBoxFuture};
use futures::StreamExt;
use std::rc::Rc;

pub trait Timer {
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()>;
    fn now_ms(&self) -> u64;
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The origin finished properly and the client got all of it.
    pub completed: bool,
    pub usage: Option<Usage>,
    pub frames: u64,
    pub error: Option<String>,
    pub client_gone: bool,
}

pub type FinishHook = Box<dyn FnOnce(Finished)>;

/// The relay's synchronous part: framing, the transform and the finish hook, one call per
/// upstream event. Who waits for the events (a Rust future here, the edge's own pump on
/// Workers) is up to the driver; this part decides what the client gets.
pub struct RelayCore {
    first: Option<Vec<u8>>,
    framer: LineFramer,
    transform: Box<dyn Transform>,
    closed: bool,
    hook: Option<FinishHook>,
}

impl RelayCore {
    pub fn new(first: Vec<u8>, transform: Box<dyn Transform>, on_finish: FinishHook) -> Self {
        RelayCore { first: Some(first), framer: LineFramer::new(DEFAULT_MAX_LINE), transform, closed: false, hook: Some(on_finish) }
    }

    /// The stream is over for the client (finished, failed or settled as gone).
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// The chunk read before the relay began (to decide failover); a no-op after the first call.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        if let Some(first) = self.first.take() {
            self.push(&first, out);
        }
    }

    /// One upstream chunk.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.start(out);
        if self.closed {
            return;
        }
        self.feed(bytes, out);
        self.settle();
    }

    pub fn upstream_failed(&mut self, error: &str, out: &mut Vec<u8>) {
        self.start(out);
        if self.closed {
            return;
        }
        self.transform.fail(&format!("the origin stream failed: {error}"), out);
        self.settle();
    }

    /// The upstream body ended.
    pub fn upstream_ended(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        if self.closed {
            return;
        }
        // A raw transform frames the bytes itself: nothing is held here, nothing added.
        if let Some(rest) = self.framer.take_rest().filter(|_| !self.transform.raw()) {
            self.feed(&rest, out);
            self.feed(b"\n", out);
        }
        let completed = self.transform.end(out);
        self.finish(completed, false);
    }

    /// Nothing came for `idle_ms`.
    pub fn idle(&mut self, idle_ms: u64, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        self.transform.fail(&format!("the origin sent nothing for {idle_ms} ms"), out);
        self.settle();
    }

    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let RelayCore { framer, transform, .. } = self;
        let sse = transform.sse();
        if transform.raw() {
            transform.frame(bytes, out);
            return;
        }
        let res = framer.push(bytes, |line| {
            if sse {
                if let Some(p) = sse_data(line) {
                    transform.frame(p, out);
                }
            } else {
                transform.frame(line, out);
            }
        });
        if let Err(e) = res {
            transform.fail(&format!("the origin sent a line longer than {} bytes", e.0), out);
        }
    }

    /// A transform that reached its terminator or failed ends the client's stream.
    fn settle(&mut self) {
        if !self.closed && *self.transform.state() != State::Open {
            let completed = *self.transform.state() == State::Done;
            self.finish(completed, false);
        }
    }

    fn finish(&mut self, completed: bool, client_gone: bool) {
        self.closed = true;
        if let Some(hook) = self.hook.take() {
            let error = match self.transform.state() {
                State::Failed(m) => Some(m.clone()),
                _ if client_gone => Some("client closed the connection".into()),
                _ => None,
            };
            hook(Finished { completed, usage: self.transform.usage(), frames: self.transform.frames(), error, client_gone });
        }
    }
}

impl Drop for RelayCore {
    /// Dropped before the end: the client went away (or the driver gave up on it).
    fn drop(&mut self) {
        if !self.closed {
            self.finish(false, true);
        }
    }
}

/// A relay ready to be driven: the core, the upstream and the idle deadline. The edge may drive
/// it with its own pump (`native`); `into_stream` is the portable driver.
pub struct Relayed {
    pub core: RelayCore,
    pub upstream: ByteStream,
    /// The platform's handle on the same upstream body, if it has one (see `NativeBody`).
    pub native: Option<NativeBody>,
    pub timer: Rc<dyn Timer>,
    pub idle_ms: u64,
}

impl std::fmt::Debug for Relayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Relayed(idle {} ms, native: {})", self.idle_ms, self.native.is_some())
    }
}

/// Relay `upstream` (whose first chunk, already read to decide failover, is `first`).
pub fn relay(upstream: ByteStream, native: Option<NativeBody>, first: Vec<u8>, transform: Box<dyn Transform>, timer: Rc<dyn Timer>, idle_ms: u64, on_finish: FinishHook) -> Relayed {
    Relayed { core: RelayCore::new(first, transform, on_finish), upstream, native, timer, idle_ms }
}

struct Driver {
    core: RelayCore,
    upstream: ByteStream,
    timer: Rc<dyn Timer>,
    idle_ms: u64,
    /// One idle timer per quiet period, not one per chunk: creating and cancelling a JS timer
    /// for every chunk is a measurable share of per-chunk CPU. When it fires early (data came
    /// since it was armed) it is re-armed for the time that is left.
    deadline: Option<LocalBoxFuture<'static, ()>>,
    last_data_ms: u64,
    /// Data arrived since the timer was armed (if not, its firing means a full quiet period).
    data_since_armed: bool,
}

impl Driver {
    /// Next non-empty output, or None once the stream is over.
    async fn step(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.core.start(&mut out);
        loop {
            if !out.is_empty() {
                return Some(out);
            }
            if self.core.closed() {
                return None;
            }
            let deadline = self.deadline.get_or_insert_with(|| self.timer.sleep(self.idle_ms));
            match select(self.upstream.next(), deadline.as_mut()).await {
                Either::Left((Some(Ok(bytes)), _)) => {
                    self.last_data_ms = self.timer.now_ms();
                    self.data_since_armed = true;
                    self.core.push(&bytes, &mut out)
                }
                Either::Left((Some(Err(e)), _)) => self.core.upstream_failed(&e, &mut out),
                Either::Left((None, _)) => self.core.upstream_ended(&mut out),
                Either::Right(((), _)) => {
                    let quiet = self.timer.now_ms().saturating_sub(self.last_data_ms);
                    if !self.data_since_armed || quiet + 1 >= self.idle_ms {
                        self.core.idle(self.idle_ms, &mut out)
                    } else {
                        // Data came since arming: wait out the rest of a quiet period.
                        self.data_since_armed = false;
                        self.deadline = Some(self.timer.sleep((self.idle_ms - quiet).max(1)));
                    }
                }
            }
        }
    }
}

impl Relayed {
    /// The portable driver: a stream of output chunks. Dropping it settles as client gone.
    pub fn into_stream(self) -> ByteStream {
        let Relayed { core, upstream, timer, idle_ms, .. } = self;
        let driver = Driver { core, upstream, last_data_ms: timer.now_ms(), timer, idle_ms, deadline: None, data_since_armed: false };
        futures::stream::unfold(driver, |mut d| async move { d.step().await.map(|out| (Ok(out), d)) }).boxed_local()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::passthrough::{OllamaNdjson, OpenAiSse};
    use std::cell::RefCell;

    struct NoTimer;
    impl Timer for NoTimer {
        fn sleep(&self, _ms: u64) -> LocalBoxFuture<'static, ()> {
            Box::pin(futures::future::pending())
        }
        fn now_ms(&self) -> u64 {
            0
        }
    }
    /// Sleeps return at once and move the clock forward by the time slept.
    struct InstantTimer(std::cell::Cell<u64>);
    impl Timer for InstantTimer {
        fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
            self.0.set(self.0.get() + ms);
            Box::pin(futures::future::ready(()))
        }
        fn now_ms(&self) -> u64 {
            self.0.get()
        }
    }

    fn upstream(chunks: Vec<Result<&'static str, &'static str>>) -> ByteStream {
        futures::stream::iter(chunks.into_iter().map(|c| c.map(|s| s.as_bytes().to_vec()).map_err(String::from))).boxed_local()
    }

    fn collect(s: ByteStream) -> String {
        let parts: Vec<Vec<u8>> = futures::executor::block_on(s.map(|r| r.unwrap()).collect());
        String::from_utf8(parts.concat()).unwrap()
    }

    fn hook() -> (Rc<RefCell<Option<Finished>>>, FinishHook) {
        let cell = Rc::new(RefCell::new(None));
        let c2 = cell.clone();
        (cell, Box::new(move |f| *c2.borrow_mut() = Some(f)))
    }

    #[test]
    fn split_frames_are_reassembled_and_finish_runs_once() {
        let (cell, h) = hook();
        let up = upstream(vec![Ok("\"created_at\":\"t\",\"done\":false}\n{\"model\":\"r\",\"done\":tr"), Ok("ue,\"eval_count\":4}\n")]);
        let s = relay(up, None, b"{\"model\":\"r\",".to_vec(), Box::new(OllamaNdjson::new("d")), Rc::new(NoTimer), 1000, h).into_stream();
        let out = collect(s);
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(!out.contains("\"r\""));
        let f = cell.borrow().clone().unwrap();
        assert!(f.completed);
        assert_eq!(f.usage.unwrap().completion_tokens, 4);
    }

    #[test]
    fn upstream_error_mid_stream_ends_in_band() {
        let (cell, h) = hook();
        let up = upstream(vec![Err("connection reset")]);
        let s = relay(up, None, b"data: {\"model\":\"r\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n".to_vec(), Box::new(OpenAiSse::new("d", false)), Rc::new(NoTimer), 1000, h).into_stream();
        let out = collect(s);
        assert!(out.contains("connection reset"));
        assert!(!out.contains("[DONE]"));
        assert!(!cell.borrow().as_ref().unwrap().completed);
    }

    #[test]
    fn stall_hits_the_idle_deadline() {
        let (cell, h) = hook();
        let up: ByteStream = futures::stream::pending().boxed_local();
        let s = relay(up, None, b"{\"model\":\"r\",\"done\":false}\n".to_vec(), Box::new(OllamaNdjson::new("d")), Rc::new(InstantTimer(std::cell::Cell::new(0))), 50, h).into_stream();
        let out = collect(s);
        assert!(out.contains("sent nothing for 50 ms"), "{out}");
        assert!(cell.borrow().as_ref().unwrap().error.is_some());
    }

    #[test]
    fn dropping_the_stream_settles_as_client_gone() {
        let (cell, h) = hook();
        let up: ByteStream = futures::stream::pending().boxed_local();
        let mut s = relay(up, None, b"{\"model\":\"r\",\"done\":false}\n".to_vec(), Box::new(OllamaNdjson::new("d")), Rc::new(NoTimer), 1000, h).into_stream();
        let first = futures::executor::block_on(s.next()).unwrap().unwrap();
        assert!(!first.is_empty());
        drop(s);
        let f = cell.borrow().clone().unwrap();
        assert!(f.client_gone && !f.completed);
    }
}
