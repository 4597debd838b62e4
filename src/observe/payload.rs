//! Optional payload logging (`payload_log.*`, off by default): the request body and the answer
//! the client got, for the users, teams or models the settings select, each cut to
//! `payload_log.max_bytes`. Stored in Postgres (`payload_log`, migration 0013) in batches
//! after the answer (the Worker batches per isolate and writes under `waitUntil`), deleted by
//! the cron after `payload_log.retention_days`, read through `GET /admin/payload-logs`.
//!
//! Off, the hot path pays one branch. On, a selected streamed answer is copied chunk by chunk
//! as it goes out (up to the cap) and runs on the portable relay driver instead of the edge's
//! native pump: logging costs the logged requests a little CPU, never the others.

use crate::net::{Body, ByteStream, Reply};
use crate::platform::Accounting;
use crate::state::db::{Db, DbError, Param};
use futures::{Stream, StreamExt};

use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

pub use super::entry::PayloadEntry;

/// Bytes as storable text: invalid UTF-8 and NUL become U+FFFD, cut to `max` bytes on a
/// character boundary. Returns (text, truncated).
pub fn text(bytes: &[u8], max: usize) -> (String, bool) {
    let truncated = bytes.len() > max;
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]);
    // A cut through a character shows as one U+FFFD at the end, which is honest enough.
    (s.replace('\0', "\u{FFFD}"), truncated)
}

/// Log this request's payloads when the rules select it (the caller checked `enabled`).
pub fn observe<P: Accounting + 'static>(p: &Rc<P>, rules: &super::config::PayloadRules, user: &crate::state::snapshot::User, record: &crate::usage::UsageRecord, req: &crate::net::Inbound, reply: Reply) -> Reply {
    if !rules.selects(&user.username, &user.teams, &record.requested_model) {
        return reply;
    }
    let (request, request_truncated) = text(&req.body, rules.max_bytes);
    let entry = PayloadEntry {
        id: record.id.clone(),
        created_at_ms: record.created_at_ms,
        user_id: record.user_id,
        username: record.username.clone(),
        model: record.requested_model.clone(),
        endpoint: record.endpoint.clone(),
        request,
        request_truncated,
        ..Default::default()
    };
    capture(p, entry, reply, rules.max_bytes)
}

/// Keep a copy of what `reply` sends, then hand the entry to the platform. Full bodies are
/// logged at once; streams when they end or the client leaves.
pub fn capture<P: Accounting + 'static>(p: &Rc<P>, mut entry: PayloadEntry, reply: Reply, max: usize) -> Reply {
    entry.status = reply.status;
    let Reply { status, headers, body } = reply;
    let body = match body {
        Body::Empty => {
            p.log_payload(entry);
            Body::Empty
        }
        Body::Full(b) => {
            (entry.response, entry.response_truncated) = text(&b, max);
            p.log_payload(entry);
            Body::Full(b)
        }
        Body::Stream(s) => Body::Stream(tee(p.clone(), entry, s, max)),
        // The edge's native pump hands chunks to JS without a Rust stream to tap: the portable
        // driver makes the same bytes (see `Relayed::into_stream`).
        Body::Relay(r) => Body::Stream(tee(p.clone(), entry, r.into_stream(), max)),
    };
    Reply { status, headers, body }
}

fn tee<P: Accounting + 'static>(p: Rc<P>, entry: PayloadEntry, inner: ByteStream, max: usize) -> ByteStream {
    Tee { inner, buf: Vec::new(), max, over: false, entry: Some(entry), p }.boxed_local()
}

struct Tee<P: Accounting + 'static> {
    inner: ByteStream,
    buf: Vec<u8>,
    max: usize,
    over: bool,
    entry: Option<PayloadEntry>,
    p: Rc<P>,
}

impl<P: Accounting + 'static> Tee<P> {
    fn emit(&mut self) {
        if let Some(mut e) = self.entry.take() {
            let (t, cut) = text(&self.buf, self.max);
            e.response = t;
            e.response_truncated = cut || self.over;
            self.p.log_payload(e);
        }
    }
}

impl<P: Accounting + 'static> Stream for Tee<P> {
    type Item = Result<Vec<u8>, String>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(b))) => {
                let room = this.max.saturating_sub(this.buf.len());
                this.buf.extend_from_slice(&b[..b.len().min(room)]);
                this.over |= b.len() > room;
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(None) => {
                this.emit();
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

impl<P: Accounting + 'static> Drop for Tee<P> {
    /// The client left before the end: what it got so far is logged.
    fn drop(&mut self) {
        self.emit();
    }
}

/// Insert a batch (a JSON array of entries); a repeated batch adds nothing.
pub const INSERT_SQL: &str = "INSERT INTO payload_log (id, created_at, user_id, username, model, endpoint, status, request, request_truncated, response, response_truncated)
    SELECT e.id, to_timestamp(e.created_at_ms / 1000.0), e.user_id, e.username, e.model, e.endpoint, e.status, e.request, e.request_truncated, e.response, e.response_truncated
    FROM jsonb_to_recordset($1::jsonb) AS e(id text, created_at_ms bigint, user_id bigint, username text, model text, endpoint text, status integer,
         request text, request_truncated boolean, response text, response_truncated boolean)
    ON CONFLICT (id) DO NOTHING";

pub async fn write<D: Db>(db: &D, entries: &[PayloadEntry]) -> Result<u64, DbError> {
    let batch = serde_json::to_value(entries).map_err(|e| DbError::Invalid(e.to_string()))?;
    db.exec(INSERT_SQL, &[Param::Json(Some(batch))]).await
}

/// Retention: a bounded batch per cron run.
pub const RETENTION_SQL: &str = "DELETE FROM payload_log WHERE id IN (SELECT id FROM payload_log WHERE created_at < now() - make_interval(days => ($1::bigint)::int) LIMIT 5000)";

/// The admin list: newest first, filtered, without the bodies' full text (a preview of each).
pub const LIST_SQL: &str = "SELECT json_build_object('items', COALESCE(json_agg(json_build_object('id', id, 'created_at', created_at, 'user_id', user_id, 'username', username,
      'model', model, 'endpoint', endpoint, 'status', status, 'request_bytes', octet_length(request), 'response_bytes', octet_length(response),
      'request_truncated', request_truncated, 'response_truncated', response_truncated, 'request_preview', left(request, 200), 'response_preview', left(response, 200))
      ORDER BY created_at DESC, id DESC), '[]'::json))::text
    FROM (SELECT * FROM payload_log
          WHERE ($1::text IS NULL OR username = $1::text) AND ($2::text IS NULL OR model = $2::text)
            AND ($3::text IS NULL OR created_at < $3::text::timestamptz)
          ORDER BY created_at DESC, id DESC LIMIT $4::bigint) p";

pub const GET_SQL: &str = "SELECT row_to_json(p)::text FROM (SELECT id, created_at, user_id, username, model, endpoint, status, request, request_truncated, response, response_truncated FROM payload_log WHERE id = $1::text) p";

pub const DELETE_SQL: &str = "DELETE FROM payload_log WHERE id = $1::text";

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Keeps what `log_payload` receives.
    #[derive(Default)]
    struct Sink(RefCell<Vec<PayloadEntry>>);
    impl Accounting for Sink {
        fn request_id(&self) -> String {
            "req_t".into()
        }
        async fn admit(&self, _: &str, _: &[crate::limits::Rule], _: u64) -> Result<(crate::limits::Decision, crate::limits::lease::Ticket), String> {
            Err("offline".into())
        }
        fn finish(&self, _: crate::usage::UsageRecord, _: Vec<crate::platform::Settlement>) {}
        fn log_payload(&self, e: PayloadEntry) {
            self.0.borrow_mut().push(e);
        }
    }

    fn chunks(parts: &[&'static str]) -> ByteStream {
        futures::stream::iter(parts.iter().map(|p| Ok(p.as_bytes().to_vec())).collect::<Vec<_>>()).boxed_local()
    }

    #[test]
    fn a_stream_is_copied_as_it_goes_and_logged_at_its_end() {
        let p = Rc::new(Sink::default());
        let reply = Reply { status: 200, headers: vec![], body: Body::Stream(chunks(&["data: a\n\n", "data: b\n\n", "data: [DONE]\n\n"])) };
        let out = capture(&p, PayloadEntry { id: "req_1".into(), ..Default::default() }, reply, 1024);
        let Body::Stream(s) = out.body else { panic!("still a stream") };
        assert!(p.0.borrow().is_empty(), "nothing before the stream runs");
        let sent: Vec<Vec<u8>> = futures::executor::block_on(s.map(|r| r.unwrap()).collect());
        assert_eq!(sent.concat(), b"data: a\n\ndata: b\n\ndata: [DONE]\n\n", "the client's bytes are untouched");
        let logged = p.0.borrow();
        assert_eq!(logged.len(), 1);
        assert_eq!(logged[0].response, "data: a\n\ndata: b\n\ndata: [DONE]\n\n");
        assert_eq!((logged[0].status, logged[0].response_truncated), (200, false));
    }

    #[test]
    fn a_stream_the_client_leaves_is_logged_as_far_as_it_got_and_long_ones_are_cut() {
        let p = Rc::new(Sink::default());
        let reply = Reply { status: 200, headers: vec![], body: Body::Stream(chunks(&["0123456789", "abcdef"])) };
        let Body::Stream(mut s) = capture(&p, PayloadEntry::default(), reply, 12).body else { panic!() };
        assert_eq!(futures::executor::block_on(s.next()).unwrap().unwrap(), b"0123456789");
        drop(s);
        assert_eq!(p.0.borrow()[0].response, "0123456789");
        let reply = Reply { status: 200, headers: vec![], body: Body::Stream(chunks(&["0123456789", "abcdef"])) };
        let Body::Stream(s) = capture(&p, PayloadEntry::default(), reply, 12).body else { panic!() };
        let _: Vec<_> = futures::executor::block_on(s.collect());
        let e = p.0.borrow()[1].clone();
        assert_eq!((e.response.as_str(), e.response_truncated), ("0123456789ab", true));
        let full = capture(&p, PayloadEntry::default(), Reply::json(201, &serde_json::json!({"ok": true})), 100);
        assert_eq!(full.status, 201);
        assert_eq!(p.0.borrow()[2].response, r#"{"ok":true}"#);
    }

    #[test]
    fn text_is_storable_and_cut_on_request() {
        assert_eq!(text(b"a\0b", 10), ("a\u{FFFD}b".to_string(), false));
        let (t, cut) = text("héllo".as_bytes(), 2);
        assert!(cut && t.starts_with('h') && t.len() <= 4, "{t:?}");
        assert_eq!(text(b"\xff", 10).0, "\u{FFFD}");
    }
}
