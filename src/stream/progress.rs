//! The one relay of Ollama's model-operation progress (`/api/pull`, `/api/push`,
//! `/api/create`), for the gateway's model management and the admin API's pulls alike: each
//! progress line forwarded (tagged with the node's name when several nodes pull at once),
//! `{"status":"success"}` the only success, and every other ending — an `error` line, a line
//! that is not a JSON object, a cut or stalled connection, a body that ends without success —
//! an `{"error": ...}` line, so a failed operation is never passed off as a finished one.

use super::transform::{error_message, Framing, State, Transform};
use crate::types::Usage;
use crate::util::jsonscan;
use serde_json::{json, Map, Value};

pub struct PullProgress {
    /// The node's name, added to every line (admin `pull-all`); None forwards lines as sent.
    node: Option<String>,
    state: State,
    frames: u64,
}

impl PullProgress {
    pub fn new(node: Option<String>) -> Self {
        PullProgress { node, state: State::Open, frames: 0 }
    }

    fn line(v: &Value, out: &mut Vec<u8>) {
        out.extend(serde_json::to_vec(v).unwrap_or_default());
        out.push(b'\n');
    }

    fn error(&mut self, message: &str, out: &mut Vec<u8>) {
        let mut e = Map::new();
        e.insert("error".into(), json!(message));
        if let Some(n) = &self.node {
            e.insert("node".into(), json!(n));
        }
        Self::line(&Value::Object(e), out);
        self.state = State::Failed(message.to_string());
    }
}

impl Transform for PullProgress {
    fn frame(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let line = line.trim_ascii();
        if self.state != State::Open || line.is_empty() {
            return;
        }
        if let Some(msg) = error_message(line) {
            return self.error(&msg, out);
        }
        let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(line) else {
            return self.error("the node sent a progress line that is not a JSON object", out);
        };
        if jsonscan::top_level_str(line, "status") == Some(b"success") {
            self.state = State::Done;
        }
        self.frames += 1;
        match &self.node {
            // The node's own bytes when nothing is added.
            None => {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            Some(n) => {
                m.insert("node".into(), json!(n));
                Self::line(&Value::Object(m), out);
            }
        }
    }
    fn end(&mut self, out: &mut Vec<u8>) -> bool {
        match self.state {
            State::Done => true,
            State::Failed(_) => false,
            State::Open => {
                self.error("the node ended the operation without reporting success", out);
                false
            }
        }
    }
    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.state == State::Open {
            self.error(message, out);
        }
    }
    fn state(&self) -> &State {
        &self.state
    }
    fn usage(&self) -> Option<Usage> {
        None
    }
    fn frames(&self) -> u64 {
        self.frames
    }
    fn framing(&self) -> Framing {
        Framing::Lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(node: Option<&str>, lines: &[&str]) -> (Vec<Value>, bool) {
        let mut t = PullProgress::new(node.map(String::from));
        let mut out = Vec::new();
        for l in lines {
            t.frame(l.as_bytes(), &mut out);
        }
        let ok = t.end(&mut out);
        (String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect(), ok)
    }

    #[test]
    fn success_is_the_only_success() {
        let (out, ok) = run(None, &[r#"{"status":"pulling manifest"}"#, r#"{"status":"success"}"#, r#"{"status":"ignored"}"#]);
        assert!(ok);
        assert_eq!(out, vec![json!({"status": "pulling manifest"}), json!({"status": "success"})]);
        let (out, ok) = run(None, &[r#"{"status":"downloading","completed":5,"total":10}"#]);
        assert!(!ok);
        assert!(out.last().unwrap()["error"].as_str().unwrap().contains("without reporting success"));
    }

    #[test]
    fn errors_and_garbage_end_it_and_lines_carry_the_node() {
        let (out, ok) = run(Some("a"), &[r#"{"status":"pulling manifest"}"#, r#"{"error":"pull model manifest: file does not exist"}"#, r#"{"status":"success"}"#]);
        assert!(!ok);
        assert_eq!(out, vec![json!({"status": "pulling manifest", "node": "a"}), json!({"error": "pull model manifest: file does not exist", "node": "a"})]);
        let (out, ok) = run(None, &["<html>"]);
        assert!(!ok);
        assert_eq!(out.len(), 1);
        assert!(out[0]["error"].as_str().unwrap().contains("not a JSON object"));
    }
}
