//! A typed Upstash Redis client over any HTTP transport (the Worker's `Fetch` at the edge, a
//! recording fake in unit tests). Every call is one HTTP round trip; the transport owns the
//! deadline, so an unreachable Redis becomes `Error::Unreachable`, never a hang.

use super::protocol::{self, Cmd, Encoding, Endpoint, Error, HttpRequest, HttpResponse, Value};
use sha1::{Digest, Sha1};

/// Sends one POST. `Err` is a transport failure (refused, reset, DNS, deadline passed).
#[allow(async_fn_in_trait)]
pub trait Transport {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, String>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `UPSTASH_REDIS_REST_URL`
    pub url: String,
    /// `UPSTASH_REDIS_REST_TOKEN`
    pub token: String,
    pub encoding: Encoding,
}

/// Key expiry for SET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Seconds(u64),
    Millis(u64),
}

/// A Lua script, run by its SHA-1 (EVALSHA) so the source travels only when Redis lacks it.
#[derive(Debug, Clone, Copy)]
pub struct Script {
    pub source: &'static str,
}

impl Script {
    pub const fn new(source: &'static str) -> Script {
        Script { source }
    }
    pub fn sha1(&self) -> String {
        Sha1::digest(self.source.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Typed constructors for commands, usable alone or in pipelines and transactions.
impl Cmd {
    pub fn get(key: &str) -> Cmd {
        Cmd::new("GET").arg(key)
    }
    pub fn set(key: &str, value: &str, expiry: Option<Expiry>) -> Cmd {
        let c = Cmd::new("SET").arg(key).arg(value);
        match expiry {
            Some(Expiry::Seconds(s)) => c.arg("EX").arg(s),
            Some(Expiry::Millis(ms)) => c.arg("PX").arg(ms),
            None => c,
        }
    }
    pub fn incr(key: &str) -> Cmd {
        Cmd::new("INCR").arg(key)
    }
    pub fn incr_by(key: &str, by: i64) -> Cmd {
        Cmd::new("INCRBY").arg(key).arg(by)
    }
    pub fn expire(key: &str, seconds: u64) -> Cmd {
        Cmd::new("EXPIRE").arg(key).arg(seconds)
    }
    pub fn pexpire(key: &str, ms: u64) -> Cmd {
        Cmd::new("PEXPIRE").arg(key).arg(ms)
    }
    pub fn del(keys: &[&str]) -> Cmd {
        Cmd::new("DEL").args(keys)
    }
    pub fn eval(source: &str, keys: &[String], args: &[String]) -> Cmd {
        Cmd::new("EVAL").arg(source).arg(keys.len()).args(keys).args(args)
    }
    pub fn evalsha(sha: &str, keys: &[String], args: &[String]) -> Cmd {
        Cmd::new("EVALSHA").arg(sha).arg(keys.len()).args(keys).args(args)
    }
}

pub struct Client<T> {
    config: Config,
    transport: T,
}

impl<T: Transport> Client<T> {
    pub fn new(config: Config, transport: T) -> Self {
        Client { config, transport }
    }

    async fn post(&self, endpoint: Endpoint, cmds: &[Cmd]) -> Result<HttpResponse, Error> {
        let req = protocol::request(&self.config.url, &self.config.token, self.config.encoding, endpoint, cmds);
        self.transport.send(req).await.map_err(Error::Unreachable)
    }

    /// One command.
    pub async fn cmd(&self, cmd: Cmd) -> Result<Value, Error> {
        let resp = self.post(Endpoint::Single, std::slice::from_ref(&cmd)).await?;
        protocol::decode_one(&resp, self.config.encoding)
    }

    /// Several commands in one round trip, in order, not atomic; each has its own result.
    pub async fn pipeline(&self, cmds: &[Cmd]) -> Result<Vec<Result<Value, Error>>, Error> {
        let resp = self.post(Endpoint::Pipeline, cmds).await?;
        protocol::decode_many(&resp, self.config.encoding, cmds.len())
    }

    /// Several commands as one MULTI/EXEC transaction: nothing else runs in between. A command
    /// refused while queueing aborts all of them (the outer error).
    pub async fn multi_exec(&self, cmds: &[Cmd]) -> Result<Vec<Result<Value, Error>>, Error> {
        let resp = self.post(Endpoint::MultiExec, cmds).await?;
        protocol::decode_many(&resp, self.config.encoding, cmds.len())
    }

    pub async fn ping(&self) -> Result<(), Error> {
        self.cmd(Cmd::new("PING")).await.map(|_| ())
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.cmd(Cmd::get(key)).await?.into_bytes()
    }

    pub async fn set(&self, key: &str, value: &str, expiry: Option<Expiry>) -> Result<(), Error> {
        let v = self.cmd(Cmd::set(key, value, expiry)).await?;
        if v.is_ok() {
            Ok(())
        } else {
            Err(Error::Type(format!("SET answered {v:?}")))
        }
    }

    pub async fn incr(&self, key: &str) -> Result<i64, Error> {
        self.cmd(Cmd::incr(key)).await?.as_int()
    }

    pub async fn incr_by(&self, key: &str, by: i64) -> Result<i64, Error> {
        self.cmd(Cmd::incr_by(key, by)).await?.as_int()
    }

    /// True when the key exists (and now expires).
    pub async fn expire(&self, key: &str, seconds: u64) -> Result<bool, Error> {
        Ok(self.cmd(Cmd::expire(key, seconds)).await?.as_int()? == 1)
    }

    pub async fn pexpire(&self, key: &str, ms: u64) -> Result<bool, Error> {
        Ok(self.cmd(Cmd::pexpire(key, ms)).await?.as_int()? == 1)
    }

    pub async fn del(&self, keys: &[&str]) -> Result<i64, Error> {
        self.cmd(Cmd::del(keys)).await?.as_int()
    }

    pub async fn eval(&self, source: &str, keys: &[String], args: &[String]) -> Result<Value, Error> {
        self.cmd(Cmd::eval(source, keys, args)).await
    }

    pub async fn evalsha(&self, sha: &str, keys: &[String], args: &[String]) -> Result<Value, Error> {
        self.cmd(Cmd::evalsha(sha, keys, args)).await
    }

    /// Run a script: EVALSHA first (one short request once Redis knows it), EVAL when Redis
    /// answers NOSCRIPT (first use, or after a restart or SCRIPT FLUSH); EVAL caches it again.
    pub async fn run(&self, script: &Script, keys: &[String], args: &[String]) -> Result<Value, Error> {
        match self.evalsha(&script.sha1(), keys, args).await {
            Err(e) if e.is_noscript() => self.eval(script.source, keys, args).await,
            other => other,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use futures::executor::block_on;
    use std::cell::RefCell;

    /// Records every request and answers with queued responses (or a transport failure).
    #[derive(Default)]
    pub struct Recorder {
        pub sent: RefCell<Vec<HttpRequest>>,
        pub answers: RefCell<Vec<Result<HttpResponse, String>>>,
    }

    impl Recorder {
        pub fn answer(&self, status: u16, body: &str) {
            self.answers.borrow_mut().push(Ok(HttpResponse { status, body: body.to_string() }));
        }
        pub fn body(&self, i: usize) -> serde_json::Value {
            serde_json::from_str(&self.sent.borrow()[i].body).unwrap()
        }
    }

    impl Transport for &Recorder {
        async fn send(&self, req: HttpRequest) -> Result<HttpResponse, String> {
            self.sent.borrow_mut().push(req);
            let mut a = self.answers.borrow_mut();
            if a.is_empty() {
                return Err("no answer queued".into());
            }
            a.remove(0)
        }
    }

    pub fn client(r: &Recorder) -> Client<&Recorder> {
        Client::new(Config { url: "http://redis.test".into(), token: "tok".into(), encoding: Encoding::Base64 }, r)
    }

    #[test]
    fn known_script_digest() {
        // The SHA-1 Redis itself reports for SCRIPT LOAD "return 1".
        assert_eq!(Script::new("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }

    #[test]
    fn typed_helpers_encode_and_decode() {
        let r = Recorder::default();
        let c = client(&r);
        r.answer(200, r#"{"result":"OK"}"#);
        block_on(c.set("k", "v", Some(Expiry::Millis(1500)))).unwrap();
        assert_eq!(r.body(0), serde_json::json!(["SET", "k", "v", "PX", "1500"]));
        r.answer(200, r#"{"result":"dg=="}"#);
        assert_eq!(block_on(c.get("k")).unwrap(), Some(b"v".to_vec()));
        r.answer(200, r#"{"result":null}"#);
        assert_eq!(block_on(c.get("gone")).unwrap(), None);
        r.answer(200, r#"{"result":7}"#);
        assert_eq!(block_on(c.incr_by("n", 6)).unwrap(), 7);
        assert_eq!(r.body(3), serde_json::json!(["INCRBY", "n", "6"]));
        r.answer(200, r#"{"result":1}"#);
        assert!(block_on(c.expire("n", 60)).unwrap());
        r.answer(200, r#"{"result":0}"#);
        assert!(!block_on(c.pexpire("missing", 60)).unwrap());
        r.answer(200, r#"{"result":"PONG"}"#);
        block_on(c.ping()).unwrap();
        assert_eq!(r.sent.borrow()[0].url, "http://redis.test");
    }

    #[test]
    fn scripts_fall_back_to_eval_on_noscript_only() {
        let r = Recorder::default();
        let c = client(&r);
        let s = Script::new("return ARGV[1]");
        let keys = vec!["a".to_string()];
        let args = vec!["x".to_string()];
        r.answer(400, r#"{"error":"NOSCRIPT No matching script. Please use EVAL."}"#);
        r.answer(200, r#"{"result":"eA=="}"#);
        assert_eq!(block_on(c.run(&s, &keys, &args)).unwrap(), Value::Bytes(b"x".to_vec()));
        assert_eq!(r.body(0), serde_json::json!(["EVALSHA", s.sha1(), "1", "a", "x"]));
        assert_eq!(r.body(1), serde_json::json!(["EVAL", "return ARGV[1]", "1", "a", "x"]));
        // Any other error is the caller's, not a reason to resend the source.
        r.answer(400, r#"{"error":"ERR Error running script"}"#);
        assert!(matches!(block_on(c.run(&s, &keys, &args)), Err(Error::Server(_))));
        assert_eq!(r.sent.borrow().len(), 3);
    }

    #[test]
    fn pipelines_transactions_and_transport_failures() {
        let r = Recorder::default();
        let c = client(&r);
        r.answer(200, r#"[{"result":"OK"},{"result":2}]"#);
        let out = block_on(c.multi_exec(&[Cmd::set("k", "1", None), Cmd::incr("k")])).unwrap();
        assert_eq!(out, vec![Ok(Value::Bytes(b"OK".to_vec())), Ok(Value::Int(2))]);
        assert_eq!(r.sent.borrow()[0].url, "http://redis.test/multi-exec");
        assert_eq!(r.body(0), serde_json::json!([["SET", "k", "1"], ["INCR", "k"]]));
        r.answer(200, r#"[{"result":1},{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"}]"#);
        let out = block_on(c.pipeline(&[Cmd::incr("a"), Cmd::incr("h")])).unwrap();
        assert!(matches!(&out[1], Err(Error::Server(m)) if m.starts_with("WRONGTYPE")));
        assert_eq!(r.sent.borrow()[1].url, "http://redis.test/pipeline");
        // Nothing queued: the transport fails like a refused connection.
        assert!(matches!(block_on(c.incr("x")), Err(Error::Unreachable(_))));
    }
}
