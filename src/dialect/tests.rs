//! The shared parts: error rendering per dialect, the IR, the wire helpers.
use super::*;
use crate::types::Dialect;

fn body(r: &Reply) -> serde_json::Value {
    match &r.body {
        crate::net::Body::Full(b) => serde_json::from_slice(b).unwrap(),
        _ => panic!("expected full body"),
    }
}

#[test]
fn each_dialect_has_its_own_shape() {
    let e = GatewayError::Unauthorized("bad token".into());
    let o = render_error(Dialect::Ollama, &e);
    assert_eq!(o.status, 401);
    assert_eq!(body(&o), json!({"error": "bad token"}));
    assert_eq!(o.header("www-authenticate"), Some("Bearer"));
    let a = render_error(Dialect::OpenAi, &e);
    assert_eq!(body(&a)["error"]["type"], "authentication_error");
    let an = render_error(Dialect::Anthropic, &e);
    assert_eq!(body(&an)["type"], "error");
    assert_eq!(body(&an)["error"]["type"], "authentication_error");
}

#[test]
fn rate_limit_carries_retry_after_and_405_carries_allow() {
    let r = render_error(Dialect::OpenAi, &GatewayError::RateLimited { message: "x".into(), retry_after: 42 });
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("42"));
    let m = render_error(Dialect::Ollama, &GatewayError::MethodNotAllowed { allow: "POST".into() });
    assert_eq!(m.status, 405);
    assert_eq!(m.header("allow"), Some("POST"));
}

#[test]
fn admin_errors_name_the_field() {
    let r = render_error(Dialect::Admin, &GatewayError::bad_field("weight", "must be a number"));
    assert_eq!(body(&r)["error"]["field"], "weight");
}

mod wire_helpers {
    use super::super::ir::ImageData;
    use super::super::wire::*;
    use serde_json::json;

    #[test]
    fn field_errors_name_the_path() {
        let v = json!({"a": {"b": 3, "s": "x", "f": 2.0, "n": null}});
        let m = v.as_object().unwrap();
        let root = Obj::root(m);
        let a = root.obj("a").unwrap().unwrap();
        let e = a.str("b").unwrap_err();
        assert_eq!(e.field(), Some("a.b"));
        assert_eq!(e.status(), 400);
        assert_eq!(a.u64("f").unwrap(), Some(2));
        assert_eq!(a.str("n").unwrap(), None);
        assert_eq!(a.req_str("zz").unwrap_err().field(), Some("a.zz"));
        assert!(root.u64("a").is_err());
    }

    #[test]
    fn image_urls_split() {
        let (mt, d) = parse_image_url("data:image/jpeg;base64,/9j/AAA");
        assert_eq!(mt.as_deref(), Some("image/jpeg"));
        assert_eq!(d, ImageData::Base64("/9j/AAA".into()));
        let (mt, d) = parse_image_url("https://x/y.png");
        assert_eq!(mt, None);
        assert_eq!(d, ImageData::Url("https://x/y.png".into()));
        assert_eq!(data_url(None, "iVBORw0KGgo"), "data:image/png;base64,iVBORw0KGgo");
        assert_eq!(data_url(None, "/9j/4A"), "data:image/jpeg;base64,/9j/4A");
    }

    #[test]
    fn args_and_ids() {
        assert_eq!(args_object(""), json!({}));
        assert_eq!(args_object("{\"a\":1}"), json!({"a":1}));
        assert_eq!(args_object("[1]"), json!({"_raw_arguments":"[1]"}));
        assert_eq!(args_text(" "), "{}");
        assert_eq!(call_id("msg_abc", 2), "call_abc_2");
        assert_eq!(call_id("", 0), "call_0");
        assert_eq!(error_message(&json!({"message":"boom","type":"x"})), "boom");
        assert_eq!(error_message(&json!("oops")), "oops");
    }
}

mod ir {
    use super::super::ir::*;
    use crate::types::{FinishReason, Usage};

    #[test]
    fn effort_from_budget_and_disabled() {
        let r = Reasoning { enabled: true, effort: None, budget_tokens: Some(16_000) };
        assert_eq!(r.effective_effort(), Some(Effort::High));
        let r = Reasoning { enabled: true, effort: None, budget_tokens: Some(5_000) };
        assert_eq!(r.effective_effort(), Some(Effort::Medium));
        let r = Reasoning { enabled: true, effort: None, budget_tokens: Some(1_024) };
        assert_eq!(r.effective_effort(), Some(Effort::Low));
        let r = Reasoning { enabled: true, effort: Some(Effort::Minimal), budget_tokens: Some(50_000) };
        assert_eq!(r.effective_effort(), Some(Effort::Minimal));
        let r = Reasoning { enabled: false, effort: Some(Effort::High), budget_tokens: None };
        assert_eq!(r.effective_effort(), None);
        assert_eq!(Effort::parse("max"), Some(Effort::XHigh));
        assert_eq!(Effort::parse("turbo"), None);
    }

    #[test]
    fn chunks_fold_into_a_response() {
        let mut r = ChatResponse::default();
        for c in [
            Chunk::Reasoning("hm".into()),
            Chunk::Text("a".into()),
            Chunk::ToolCallStart { index: 0, id: "c1".into(), name: "f".into() },
            Chunk::ToolCallArgs { index: 0, delta: "{\"x\":".into() },
            Chunk::ToolCallStart { index: 1, id: "".into(), name: "g".into() },
            Chunk::ToolCallArgs { index: 0, delta: "1}".into() },
            Chunk::Usage(Usage { prompt_tokens: 3, completion_tokens: 4, estimated: false, ..Default::default() }),
        ] {
            r.push_chunk(&c);
        }
        r.settle();
        assert_eq!(r.text, "a");
        assert_eq!(r.reasoning, "hm");
        assert_eq!(r.tool_calls.len(), 2);
        assert_eq!(r.tool_calls[0].arguments, "{\"x\":1}");
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert_eq!(r.usage.unwrap().completion_tokens, 4);
    }
}
