//! The streaming relay: upstream body -> line framing -> per-dialect transform -> client, one
//! upstream chunk at a time (never the whole answer). An idle deadline ends a stalled stream
//! with an in-band error. `on_finish` runs exactly once: when the stream ends, fails, or the
//! client goes away (the relay is dropped), so limits and usage are always settled.
//!
//! Mid-stream recovery (`streams.recover`, transcoded streams only): when the stream breaks
//! after bytes went out (cut, stall, malformed event), the transform holds its error back and
//! the driver asks `Recover` for a continuation (the next candidate, sent the answer so far as
//! an assistant prefill). If one comes, the same transform goes on with the new upstream, so
//! the client sees one answer; if not, the held-back error ends the stream as before.

use super::lines::{sse_data, LineFramer, DEFAULT_MAX_LINE};
use super::transform::{Framing, State, Transform};
use super::transcode::Transcode;
use crate::dialect::decoder::Decoder;
use super::bytes::{ByteStream, NativeBody};
use crate::repair::Pipeline;
use crate::types::Usage;
use futures::future::{select, Either, LocalBoxFuture};
use futures::StreamExt;
use std::rc::Rc;

pub use crate::platform::timer::Timer;

#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The origin finished properly and the client got all of it.
    pub completed: bool,
    pub usage: Option<Usage>,
    pub frames: u64,
    pub error: Option<String>,
    pub client_gone: bool,
    /// One note per mid-stream recovery (what broke, where it continued).
    pub recovered: Vec<String>,
}

pub type FinishHook = Box<dyn FnOnce(Finished)>;

/// A continuation for a broken stream: the next candidate's stream, read up to its first event.
pub struct Resumed {
    pub upstream: ByteStream,
    pub first: Vec<u8>,
    pub decoder: Decoder,
    pub repair: Option<Pipeline>,
    pub note: String,
}

/// Asked with (the answer's text so far, why the stream broke); None = no continuation.
pub type Recover = Box<dyn FnMut(String, String) -> LocalBoxFuture<'static, Option<Resumed>>>;

/// The relay's synchronous part: framing, the transform and the finish hook, one call per
/// upstream event. Who waits for the events (a Rust future here, the edge's own pump on
/// Workers) is up to the driver; this part decides what the client gets.
pub struct RelayCore {
    first: Option<Vec<u8>>,
    framer: LineFramer,
    transform: Box<dyn Transform>,
    closed: bool,
    hook: Option<FinishHook>,
    /// The transform holds back a failure: a continuation is being sought.
    broken: bool,
    recovered: Vec<String>,
}

impl RelayCore {
    pub fn new(first: Vec<u8>, transform: Box<dyn Transform>, on_finish: FinishHook) -> Self {
        RelayCore { first: Some(first), framer: LineFramer::new(DEFAULT_MAX_LINE), transform, closed: false, hook: Some(on_finish), broken: false, recovered: Vec::new() }
    }

    /// The transcoding transform, when this stream has one (only it can be continued).
    fn transcode(&mut self) -> Option<&mut Transcode> {
        self.transform.as_any_mut()?.downcast_mut::<Transcode>()
    }

    /// (why it broke, the answer's text so far) while the stream waits for a continuation.
    pub fn broken(&mut self) -> Option<(String, String)> {
        if !self.broken {
            return None;
        }
        let t = self.transcode()?;
        Some((t.broken()?.to_string(), t.partial_text()?.to_string()))
    }

    /// Go on from another upstream (its first chunk read already).
    pub fn resume(&mut self, r: Resumed, out: &mut Vec<u8>) -> ByteStream {
        self.broken = false;
        self.framer = LineFramer::new(DEFAULT_MAX_LINE);
        if let Some(t) = self.transcode() {
            t.resume(r.decoder, r.repair);
        }
        self.recovered.push(r.note);
        self.push(&r.first, out);
        r.upstream
    }

    /// No continuation: the held-back error ends the stream.
    pub fn give_up(&mut self, out: &mut Vec<u8>) {
        self.broken = false;
        if let Some(t) = self.transcode() {
            t.give_up(out);
        }
        self.finish(false, false);
    }

    /// The transform failed but only held its error back (see `Transcode::recoverable`).
    fn held_back(&mut self) -> bool {
        let held = self.transcode().is_some_and(|t| t.broken().is_some() && t.partial_text().is_some());
        if held {
            self.broken = true;
        }
        held
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
        if let Some(rest) = self.framer.take_rest().filter(|_| self.transform.framing() != Framing::Raw) {
            self.feed(&rest, out);
            self.feed(b"\n", out);
        }
        let completed = self.transform.end(out);
        if !completed && self.held_back() {
            return;
        }
        self.finish(completed, false);
    }

    /// Nothing went to the client for a keep-alive interval while the origin was silent.
    pub fn keepalive(&mut self, out: &mut Vec<u8>) {
        if !self.closed && !self.broken {
            self.transform.keepalive(out);
        }
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
        let framing = transform.framing();
        if framing == Framing::Raw {
            transform.frame(bytes, out);
            return;
        }
        let res = framer.push(bytes, |line| {
            if framing == Framing::SseData {
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
        if !self.closed && !self.broken && *self.transform.state() != State::Open {
            let completed = *self.transform.state() == State::Done;
            if !completed && self.held_back() {
                return;
            }
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
            let recovered = std::mem::take(&mut self.recovered);
            hook(Finished { completed, usage: self.transform.usage(), frames: self.transform.frames(), error, client_gone, recovered });
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
    /// A keep-alive goes to the client after this long without output (0: never).
    pub keepalive_ms: u64,
    /// Set for recoverable streams, which the portable driver runs (see the module doc).
    pub recover: Option<Recover>,
}

impl Relayed {
    /// Continue broken streams with `recover`. The edge's native pump cannot wait for a
    /// continuation, so such a stream runs on the portable driver.
    pub fn with_recovery(mut self, recover: Recover) -> Self {
        self.recover = Some(recover);
        self.native = None;
        self
    }

    /// Send the client's keep-alive after `ms` without output while the origin is silent.
    pub fn with_keepalive(mut self, ms: u64) -> Self {
        self.keepalive_ms = ms;
        self
    }
}

impl std::fmt::Debug for Relayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Relayed(idle {} ms, keep-alive {} ms, native: {})", self.idle_ms, self.keepalive_ms, self.native.is_some())
    }
}

/// Relay `upstream` (whose first chunk, already read to decide failover, is `first`).
pub fn relay(upstream: ByteStream, native: Option<NativeBody>, first: Vec<u8>, transform: Box<dyn Transform>, timer: Rc<dyn Timer>, idle_ms: u64, on_finish: FinishHook) -> Relayed {
    Relayed { core: RelayCore::new(first, transform, on_finish), upstream, native, timer, idle_ms, keepalive_ms: 0, recover: None }
}

struct Driver {
    core: RelayCore,
    upstream: ByteStream,
    timer: Rc<dyn Timer>,
    idle_ms: u64,
    keepalive_ms: u64,
    /// One timer per quiet period, not one per chunk: creating and cancelling a JS timer for
    /// every chunk is a measurable share of per-chunk CPU. When it fires early (data came since
    /// it was armed) it is re-armed for the time that is left.
    deadline: Option<LocalBoxFuture<'static, ()>>,
    last_data_ms: u64,
    /// When output last went to the client (the keep-alive clock).
    last_out_ms: u64,
    recover: Option<Recover>,
}

impl Driver {
    /// How long until the idle deadline or the next keep-alive, whichever is first.
    fn wait_ms(&self) -> u64 {
        let now = self.timer.now_ms();
        let idle = self.idle_ms.saturating_sub(now.saturating_sub(self.last_data_ms));
        let keep = match self.keepalive_ms {
            0 => u64::MAX,
            k => k.saturating_sub(now.saturating_sub(self.last_out_ms)),
        };
        idle.min(keep).max(1)
    }

    /// Next non-empty output, or None once the stream is over.
    async fn step(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.core.start(&mut out);
        loop {
            if !out.is_empty() {
                self.last_out_ms = self.timer.now_ms();
                return Some(out);
            }
            if self.core.closed() {
                return None;
            }
            if let Some((why, partial)) = self.core.broken() {
                let next = match self.recover.as_mut() {
                    Some(r) => r(partial, why).await,
                    None => None,
                };
                match next {
                    Some(r) => {
                        self.upstream = self.core.resume(r, &mut out);
                        self.last_data_ms = self.timer.now_ms();
                        self.deadline = None;
                    }
                    None => self.core.give_up(&mut out),
                }
                continue;
            }
            if self.deadline.is_none() {
                self.deadline = Some(self.timer.sleep(self.wait_ms()));
            }
            let deadline = self.deadline.as_mut().expect("armed above");
            match select(self.upstream.next(), deadline.as_mut()).await {
                Either::Left((Some(Ok(bytes)), _)) => {
                    self.last_data_ms = self.timer.now_ms();
                    self.core.push(&bytes, &mut out)
                }
                Either::Left((Some(Err(e)), _)) => self.core.upstream_failed(&e, &mut out),
                Either::Left((None, _)) => self.core.upstream_ended(&mut out),
                Either::Right(((), _)) => {
                    self.deadline = None;
                    let now = self.timer.now_ms();
                    if now.saturating_sub(self.last_data_ms) + 1 >= self.idle_ms {
                        self.core.idle(self.idle_ms, &mut out)
                    } else if self.keepalive_ms > 0 && now.saturating_sub(self.last_out_ms) + 1 >= self.keepalive_ms {
                        self.core.keepalive(&mut out);
                        // Also when the dialect has none: the clock restarts instead of spinning.
                        self.last_out_ms = now;
                    }
                    // Otherwise data came since arming: re-armed for what is left.
                }
            }
        }
    }
}

impl Relayed {
    /// The portable driver: a stream of output chunks. Dropping it settles as client gone.
    pub fn into_stream(self) -> ByteStream {
        let Relayed { core, upstream, timer, idle_ms, keepalive_ms, recover, .. } = self;
        let now = timer.now_ms();
        let driver = Driver { core, upstream, last_data_ms: now, last_out_ms: now, timer, idle_ms, keepalive_ms, deadline: None, recover };
        futures::stream::unfold(driver, |mut d| async move { d.step().await.map(|out| (Ok(out), d)) }).boxed_local()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{ollama::OllamaNdjson, openai::OpenAiSse};
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
    fn a_silent_origin_gets_keepalives_in_the_clients_dialect_until_the_idle_deadline() {
        let (cell, h) = hook();
        let up: ByteStream = futures::stream::pending().boxed_local();
        let enc = Box::new(crate::dialect::anthropic::StreamEncoder::new("d", "msg_1", 3));
        let t = Box::new(crate::stream::transcode::Transcode::new(Decoder::Ollama(crate::dialect::ollama::StreamDecoder::new()), None, enc));
        let first = b"{\"model\":\"r\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\n".to_vec();
        let s = relay(up, None, first, t, Rc::new(InstantTimer(std::cell::Cell::new(0))), 100, h).with_keepalive(30).into_stream();
        let out = collect(s);
        // message_start's own ping, then one every 30 ms of silence (30, 60, 90), then the idle error.
        assert_eq!(out.matches("event: ping").count(), 4, "{out}");
        assert!(out.find("\"text\":\"Hi\"").unwrap() < out.rfind("event: ping").unwrap());
        let last = out.trim_end().rsplit("\n\n").next().unwrap();
        assert!(last.starts_with("event: error") && last.contains("the origin sent nothing for 100 ms"), "{out}");
        assert!(!cell.borrow().as_ref().unwrap().completed);
        // A passthrough adds nothing: its bytes are the origin's.
        let (_, h) = hook();
        let up: ByteStream = futures::stream::pending().boxed_local();
        let s = relay(up, None, b"{\"model\":\"r\",\"done\":false}\n".to_vec(), Box::new(OllamaNdjson::new("d")), Rc::new(InstantTimer(std::cell::Cell::new(0))), 100, h).with_keepalive(30).into_stream();
        assert_eq!(collect(s).lines().count(), 2, "the line and the idle error only");
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

    fn recoverable_openai() -> Box<dyn Transform> {
        let enc = Box::new(crate::dialect::openai::StreamEncoder::new("d", "chatcmpl-1", 1, true));
        Box::new(crate::stream::transcode::Transcode::new(Decoder::OpenAi(crate::dialect::openai::StreamDecoder::new()), None, enc).recoverable(5))
    }

    fn sse(text: &str) -> String {
        format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{}}},\"finish_reason\":null}}]}}\n\n", serde_json::to_string(text).unwrap())
    }

    #[test]
    fn a_cut_stream_continues_on_the_next_candidate_as_one_answer() {
        let (cell, h) = hook();
        let asked = Rc::new(RefCell::new(Vec::new()));
        let a2 = asked.clone();
        let recover: Recover = Box::new(move |partial, why| {
            a2.borrow_mut().push((partial, why));
            let rest = format!(
                "{}data: {{\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":9,\"completion_tokens\":2}}}}\n\ndata: [DONE]\n\n",
                sse("lazy dog")
            );
            let up: ByteStream = futures::stream::iter([Ok(rest.into_bytes())]).boxed_local();
            Box::pin(futures::future::ready(Some(Resumed {
                upstream: up,
                first: sse("over the ").into_bytes(),
                decoder: Decoder::OpenAi(crate::dialect::openai::StreamDecoder::new()),
                repair: None,
                note: "cut; continued on node 'b'".into(),
            })))
        });
        let up = upstream(vec![Ok("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"jumps \"},\"finish_reason\":null}],\"usage\":null}\n\n"), Err("connection reset")]);
        let s = relay(up, None, sse("The fox ").into_bytes(), recoverable_openai(), Rc::new(NoTimer), 1000, h).with_recovery(recover).into_stream();
        let out = collect(s);
        let text: String = out
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(String::from))
            .collect();
        assert_eq!(text, "The fox jumps over the lazy dog", "{out}");
        assert!(out.ends_with("data: [DONE]\n\n"), "{out}");
        assert!(!out.contains("error"), "{out}");
        assert_eq!(out.matches("\"id\":\"chatcmpl-1\"").count(), out.matches("data: {").count(), "one id throughout: {out}");
        assert_eq!(asked.borrow()[0].0, "The fox jumps ");
        assert!(asked.borrow()[0].1.contains("connection reset"));
        let f = cell.borrow().clone().unwrap();
        assert!(f.completed);
        assert_eq!(f.recovered, vec!["cut; continued on node 'b'".to_string()]);
        // The first attempt broke before its usage: counted as estimated (prompt 5, 2 frames).
        assert_eq!(f.usage, Some(Usage { prompt_tokens: 14, completion_tokens: 4, estimated: true, ..Default::default() }));
    }

    #[test]
    fn without_a_continuation_the_held_back_error_ends_the_stream() {
        let (cell, h) = hook();
        let recover: Recover = Box::new(|_, _| Box::pin(futures::future::ready(None)));
        let up = upstream(vec![Err("connection reset")]);
        let s = relay(up, None, sse("The fox ").into_bytes(), recoverable_openai(), Rc::new(NoTimer), 1000, h).with_recovery(recover).into_stream();
        let out = collect(s);
        assert!(out.contains("connection reset"), "{out}");
        assert!(!out.contains("[DONE]"));
        let f = cell.borrow().clone().unwrap();
        assert!(!f.completed && f.recovered.is_empty());
    }
}
