//! Relayed streams on Workers, pumped by a small JS loop instead of Rust futures.
//!
//! Why: a streamed chunk used to cost ~100 µs of workerd CPU, nearly all of it runtime stream
//! machinery, not our parsing: a JS promise per read wrapped in a `JsFuture` (two closures), a
//! wasm-bindgen-futures task woken through a microtask, a pull-based JS `ReadableStream`
//! (`future_to_promise` per pull), a fresh `Uint8Array` per enqueue. In the same workerd a
//! logic-free Worker reading every chunk in JS costs ~37 µs per chunk and writing each into an
//! `IdentityTransformStream` (workerd-native, no JS controller) ~35 µs more, so the cheapest
//! structure that still lets wasm see and rewrite every chunk is: a JS `reader.read()` loop,
//! one synchronous wasm call per chunk (`EdgeRelay`), and awaited writes into an
//! `IdentityTransformStream` whose readable side is the response body (the awaited write is
//! the backpressure). See bench/floor-worker.mjs and bench/stream-cpu.mjs for the measurements.
//!
//! The same reader also backs a plain Rust `ByteStream` (the first chunk is read there, under
//! the TTFB deadline, and non-streamed bodies are read whole); both hold the origin request's
//! abort guard, so the origin is aborted once neither needs the body any more.

use crate::net::{ByteStream, NativeBody};
use crate::stream::relay::{RelayCore, Relayed};
use futures::StreamExt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::web_sys::ReadableStream;

#[wasm_bindgen(inline_js = r#"
export function readerOf(stream) {
  return stream.getReader();
}

// Drives one relayed stream: origin chunk -> relay.push (wasm, synchronous) -> response. Returns
// the response body. The loop is registered with waitUntil so it can still settle (finish hook)
// after the client went away. A keep-alive (relay.keepalive) goes out when nothing was written
// for keepMs while the origin is silent (0: never).
export function pumpRelay(reader, relay, idleMs, keepMs, ctx) {
  const { readable, writable } = new IdentityTransformStream();
  const writer = writable.getWriter();
  let stopped = null; // why reading ended early: "idle" (origin quiet) or "gone" (client)
  let reading = false;
  let ended = false; // the origin's body ended normally
  let since = 0; // when the pending read began
  let lastOut = Date.now(); // when output last went to the client (at the read after it)
  let wrote = false;
  let timer;
  const stop = (why) => {
    if (stopped) return;
    stopped = why;
    reader.cancel().catch(() => {});
  };
  // One timer per quiet period, not per chunk; only time spent waiting for the origin counts
  // (a client that reads slowly is backpressure, not an idle origin). The same timer sends the
  // keep-alives: no read is pending a write then, so the ping lands between whole events.
  const onTimer = () => {
    const now = Date.now();
    const quiet = reading ? now - since : 0;
    if (quiet + 1 >= idleMs) return stop("idle");
    let next = idleMs - quiet;
    if (keepMs > 0) {
      let silent = now - lastOut;
      if (silent + 1 >= keepMs) {
        if (reading) {
          lastOut = now;
          const ping = relay.keepalive();
          if (ping !== undefined) writer.write(ping).catch(() => stop("gone"));
        }
        silent = 0; // a full interval to the next check (also while the client reads slowly)
      }
      next = Math.min(next, keepMs - silent);
    }
    timer = setTimeout(onTimer, Math.max(1, next));
  };
  // The client hung up: stop reading now rather than at the next write.
  writer.closed.catch(() => stop("gone"));
  const send = (out) => {
    if (out === undefined) return undefined;
    wrote = true;
    return writer.write(out);
  };
  const run = async () => {
    try {
      await send(relay.start());
      timer = setTimeout(onTimer, keepMs > 0 ? Math.min(idleMs, keepMs) : idleMs);
      while (!relay.closed) {
        let r;
        reading = true;
        since = Date.now();
        if (wrote) {
          lastOut = since; // no Date.now() of its own per chunk
          wrote = false;
        }
        try {
          r = await reader.read();
        } catch (e) {
          if (!stopped) await send(relay.fail(String(e)));
          break;
        } finally {
          reading = false;
        }
        if (stopped) break;
        if (r.done) ended = true;
        await send(r.done ? relay.end() : relay.push(r.value));
        if (r.done) break;
      }
      if (stopped === "idle") await send(relay.idle(idleMs));
      if (stopped !== "gone") await writer.close();
    } catch {
      stopped = "gone"; // a write failed: the client went away
    } finally {
      clearTimeout(timer);
      if (stopped === "gone") writer.abort().catch(() => {});
      if (!ended) reader.cancel().catch(() => {}); // stop the origin (not needed once its body ended)
      try {
        relay.free(); // settles as client gone unless finished; drops the origin's abort guard
      } catch {}
    }
  };
  const done = run();
  if (ctx) ctx.waitUntil(done);
  return readable;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = readerOf)]
    fn reader_of(stream: &JsValue) -> Reader;
    #[wasm_bindgen(js_name = pumpRelay)]
    fn pump_relay(reader: &Reader, relay: EdgeRelay, idle_ms: f64, keepalive_ms: f64, ctx: &JsValue) -> JsValue;

    /// A `ReadableStreamDefaultReader`.
    #[derive(Clone)]
    type Reader;
    #[wasm_bindgen(method)]
    fn read(this: &Reader) -> js_sys::Promise;

    type ReadResult;
    #[wasm_bindgen(method, getter)]
    fn done(this: &ReadResult) -> bool;
    #[wasm_bindgen(method, getter)]
    fn value(this: &ReadResult) -> JsValue;
}

/// Aborts the origin request when the body (or the pending fetch) is dropped, e.g. on a
/// deadline or when the client goes away, so the origin stops generating.
pub(super) struct AbortOnDrop(pub Option<worker::web_sys::AbortController>);

impl AbortOnDrop {
    /// The body was read to the end: nothing left to abort.
    pub fn disarm(&mut self) {
        self.0.take();
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.abort();
        }
    }
}

/// An origin body: its one reader, and the abort guard every holder shares.
struct Upstream {
    reader: Reader,
    abort: std::cell::RefCell<AbortOnDrop>,
}

impl Upstream {
    /// The body was read to its end: nothing left to abort (aborting a finished fetch still
    /// costs the runtime a cancellation).
    fn ended(&self) {
        self.abort.borrow_mut().disarm();
    }
}

/// The origin body as both a Rust stream and the native handle `Body::Relay` can be pumped from.
pub(super) fn upstream(stream: &JsValue, abort: AbortOnDrop) -> (ByteStream, Option<NativeBody>) {
    let up = Rc::new(Upstream { reader: reader_of(stream), abort: std::cell::RefCell::new(abort) });
    let rust = ReaderStream { up: up.clone(), pending: None, ended: false }.boxed_local();
    (rust, Some(NativeBody(Box::new(up))))
}

struct ReaderStream {
    up: Rc<Upstream>,
    pending: Option<JsFuture>,
    ended: bool,
}

impl futures::Stream for ReaderStream {
    type Item = Result<Vec<u8>, String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        let fut = this.pending.get_or_insert_with(|| JsFuture::from(this.up.reader.read()));
        let res = futures::ready!(Pin::new(fut).poll(cx));
        this.pending = None;
        Poll::Ready(match res {
            Ok(v) => {
                let r: ReadResult = v.unchecked_into();
                if r.done() {
                    this.ended = true;
                    this.up.ended();
                    None
                } else {
                    Some(Ok(js_sys::Uint8Array::new(&r.value()).to_vec()))
                }
            }
            Err(e) => {
                this.ended = true;
                // As worker's own ByteStream: our abort shows up as an end, not a failure.
                match worker::Error::from(e).to_string() {
                    m if m == "Error: aborted" => None,
                    m => Some(Err(m)),
                }
            }
        })
    }
}

/// The relay as the JS pump sees it: one synchronous call per event, the output (if any) back.
#[wasm_bindgen]
pub struct EdgeRelay {
    core: RelayCore,
    out: Vec<u8>,
    // Last: the core's finish hook runs (on drop) before the origin is aborted.
    _upstream: Rc<Upstream>,
}

impl EdgeRelay {
    fn take(&mut self) -> Option<Vec<u8>> {
        (!self.out.is_empty()).then(|| std::mem::take(&mut self.out))
    }
}

#[wasm_bindgen]
impl EdgeRelay {
    pub fn start(&mut self) -> Option<Vec<u8>> {
        self.core.start(&mut self.out);
        self.take()
    }
    pub fn push(&mut self, chunk: &[u8]) -> Option<Vec<u8>> {
        self.core.push(chunk, &mut self.out);
        self.take()
    }
    pub fn end(&mut self) -> Option<Vec<u8>> {
        self._upstream.ended();
        self.core.upstream_ended(&mut self.out);
        self.take()
    }
    pub fn fail(&mut self, error: String) -> Option<Vec<u8>> {
        self.core.upstream_failed(&error, &mut self.out);
        self.take()
    }
    pub fn keepalive(&mut self) -> Option<Vec<u8>> {
        self.core.keepalive(&mut self.out);
        self.take()
    }
    pub fn idle(&mut self, ms: f64) -> Option<Vec<u8>> {
        self.core.idle(ms as u64, &mut self.out);
        self.take()
    }
    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> bool {
        self.core.closed()
    }
}

/// The response body for a relay: pumped in JS when the upstream is a JS stream of ours,
/// otherwise the portable Rust driver. `ctx` is the fetch event's context (waitUntil).
pub(super) fn body(relayed: Relayed, ctx: &JsValue) -> Result<ReadableStream, Relayed> {
    // A recoverable stream has no native handle (see `Relayed::with_recovery`): never pumped here.
    let Relayed { core, upstream, native, timer, idle_ms, keepalive_ms, recover } = relayed;
    let up = match native.map(|n| n.0.downcast::<Rc<Upstream>>()) {
        Some(Ok(up)) => *up,
        other => return Err(Relayed { core, upstream, native: other.and_then(Result::err).map(NativeBody), timer, idle_ms, keepalive_ms, recover }),
    };
    // The Rust view of the body is done with (it holds no pending read after the first chunk).
    drop(upstream);
    let reader = up.reader.clone();
    let relay = EdgeRelay { core, out: Vec::new(), _upstream: up };
    Ok(pump_relay(&reader, relay, idle_ms as f64, keepalive_ms as f64, ctx).unchecked_into())
}
