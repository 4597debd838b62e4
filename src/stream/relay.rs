//! The streaming relay: upstream body -> line framing -> per-dialect transform -> client, one
//! upstream chunk at a time (never the whole answer). An idle deadline ends a stalled stream
//! with an in-band error. `on_finish` runs exactly once: when the stream ends, fails, or the
//! client goes away (the relay is dropped), so limits and usage are always settled.

use super::lines::{sse_data, LineFramer, DEFAULT_MAX_LINE};
use super::passthrough::{State, Transform};
use crate::net::ByteStream;
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

struct Relay {
    upstream: ByteStream,
    first: Option<Vec<u8>>,
    framer: LineFramer,
    transform: Box<dyn Transform>,
    timer: Rc<dyn Timer>,
    idle_ms: u64,
    /// One idle timer per quiet period, not one per chunk: creating and cancelling a JS timer
    /// for every chunk is a measurable share of per-chunk CPU. When it fires early (data came
    /// since it was armed) it is re-armed for the time that is left.
    deadline: Option<LocalBoxFuture<'static, ()>>,
    last_data_ms: u64,
    /// Data arrived since the timer was armed (if not, its firing means a full quiet period).
    data_since_armed: bool,
    closed: bool,
    hook: Option<FinishHook>,
}

impl Relay {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let Relay { framer, transform, .. } = self;
        let sse = transform.sse();
        let raw = transform.raw();
        let res = framer.push(bytes, |line| {
            if raw {
                transform.frame(line, out);
            } else if sse {
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

    /// Next non-empty output, or None once the stream is over.
    async fn step(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.closed {
                return None;
            }
            let mut out = Vec::new();
            if let Some(first) = self.first.take() {
                self.feed(&first, &mut out);
            } else {
                let deadline = self.deadline.get_or_insert_with(|| self.timer.sleep(self.idle_ms));
                match select(self.upstream.next(), deadline.as_mut()).await {
                    Either::Left((Some(Ok(bytes)), _)) => {
                        self.last_data_ms = self.timer.now_ms();
                        self.data_since_armed = true;
                        self.feed(&bytes, &mut out)
                    }
                    Either::Left((Some(Err(e)), _)) => self.transform.fail(&format!("the origin stream failed: {e}"), &mut out),
                    Either::Left((None, _)) => {
                        if let Some(rest) = self.framer.take_rest() {
                            self.feed(&rest, &mut out);
                            self.feed(b"\n", &mut out);
                        }
                        let completed = self.transform.end(&mut out);
                        self.finish(completed, false);
                    }
                    Either::Right(((), _)) => {
                        let quiet = self.timer.now_ms().saturating_sub(self.last_data_ms);
                        if !self.data_since_armed || quiet + 1 >= self.idle_ms {
                            let msg = format!("the origin sent nothing for {} ms", self.idle_ms);
                            self.transform.fail(&msg, &mut out)
                        } else {
                            // Data came since arming: wait out the rest of a quiet period.
                            self.data_since_armed = false;
                            self.deadline = Some(self.timer.sleep((self.idle_ms - quiet).max(1)));
                            continue;
                        }
                    }
                }
            }
            if !self.closed && *self.transform.state() != State::Open {
                let completed = *self.transform.state() == State::Done;
                self.finish(completed, false);
            }
            if !out.is_empty() {
                return Some(out);
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if !self.closed {
            self.finish(false, true);
        }
    }
}

/// Relay `upstream` (whose first chunk, already read to decide failover, is `first`).
pub fn relay(upstream: ByteStream, first: Vec<u8>, transform: Box<dyn Transform>, timer: Rc<dyn Timer>, idle_ms: u64, on_finish: FinishHook) -> ByteStream {
    let relay = Relay {
        upstream,
        first: Some(first),
        framer: LineFramer::new(DEFAULT_MAX_LINE),
        transform,
        last_data_ms: timer.now_ms(),
        timer,
        idle_ms,
        deadline: None,
        data_since_armed: false,
        closed: false,
        hook: Some(on_finish),
    };
    futures::stream::unfold(relay, |mut r| async move { r.step().await.map(|out| (Ok(out), r)) }).boxed_local()
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
        let s = relay(up, b"{\"model\":\"r\",".to_vec(), Box::new(OllamaNdjson::new("d")), Rc::new(NoTimer), 1000, h);
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
        let s = relay(up, b"data: {\"model\":\"r\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n".to_vec(), Box::new(OpenAiSse::new("d", false)), Rc::new(NoTimer), 1000, h);
        let out = collect(s);
        assert!(out.contains("connection reset"));
        assert!(!out.contains("[DONE]"));
        assert!(!cell.borrow().as_ref().unwrap().completed);
    }

    #[test]
    fn stall_hits_the_idle_deadline() {
        let (cell, h) = hook();
        let up: ByteStream = futures::stream::pending().boxed_local();
        let s = relay(up, b"{\"model\":\"r\",\"done\":false}\n".to_vec(), Box::new(OllamaNdjson::new("d")), Rc::new(InstantTimer(std::cell::Cell::new(0))), 50, h);
        let out = collect(s);
        assert!(out.contains("sent nothing for 50 ms"), "{out}");
        assert!(cell.borrow().as_ref().unwrap().error.is_some());
    }

    #[test]
    fn dropping_the_stream_settles_as_client_gone() {
        let (cell, h) = hook();
        let up: ByteStream = futures::stream::pending().boxed_local();
        let mut s = relay(up, b"{\"model\":\"r\",\"done\":false}\n".to_vec(), Box::new(OllamaNdjson::new("d")), Rc::new(NoTimer), 1000, h);
        let first = futures::executor::block_on(s.next()).unwrap().unwrap();
        assert!(!first.is_empty());
        drop(s);
        let f = cell.borrow().clone().unwrap();
        assert!(f.client_gone && !f.completed);
    }
}
