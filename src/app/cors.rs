//! CORS for browser clients of the gateway API (`/v1`, `/api`, tool prefixes; the admin API has
//! its own, `ADMIN_UI_ORIGINS`). Origins are allowed by the `cors.allowed_origins` setting
//! (default: none, so browsers cannot read answers). An allowed origin gets its preflight
//! answered and CORS headers on every answer, errors included; any other origin gets none.
//! Credentials are bearer tokens in headers, never cookies, so `Allow-Credentials` is not sent.

use crate::net::{Inbound, Reply};

/// Request headers the clients we serve send from browsers (SDKs, Anthropic's direct-browser
/// mode). A preflight's own list of requested headers is allowed as well: the origin is trusted.
const ALLOW_HEADERS: &str = "authorization, x-api-key, anthropic-version, anthropic-beta, anthropic-dangerous-direct-browser-access, content-type, accept, x-maestro-client";
const ALLOW_METHODS: &str = "GET, HEAD, POST, DELETE, OPTIONS";
const EXPOSE_HEADERS: &str = "retry-after, x-request-id, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens";
const MAX_AGE_S: &str = "600";

/// The request's origin if the allow-list admits it (`*` admits any).
pub fn allowed_origin<'a>(allowed: &[String], req: &'a Inbound) -> Option<&'a str> {
    let origin = req.header("origin")?;
    allowed.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(origin)).then_some(origin)
}

/// The answer to `OPTIONS`: 204, with the CORS grant only for an allowed origin.
pub fn preflight(allowed: &[String], req: &Inbound) -> Reply {
    let mut reply = Reply::empty(204);
    if let Some(origin) = allowed_origin(allowed, req) {
        reply.set_header("access-control-allow-methods", ALLOW_METHODS);
        let requested = req.header("access-control-request-headers").filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ',' | ' ')));
        let headers = match requested {
            Some(r) if !r.trim().is_empty() => format!("{ALLOW_HEADERS}, {}", r.trim()),
            _ => ALLOW_HEADERS.to_string(),
        };
        reply.set_header("access-control-allow-headers", headers);
        reply.set_header("access-control-max-age", MAX_AGE_S);
        grant(&mut reply, origin);
    }
    reply
}

/// CORS headers on an answer for an allowed origin.
pub fn decorate(allowed: &[String], req: &Inbound, mut reply: Reply) -> Reply {
    if let Some(origin) = allowed_origin(allowed, req) {
        reply.set_header("access-control-expose-headers", EXPOSE_HEADERS);
        grant(&mut reply, origin);
    }
    reply
}

fn grant(reply: &mut Reply, origin: &str) {
    reply.set_header("access-control-allow-origin", origin);
    reply.set_header("vary", "Origin");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(origin: Option<&str>, requested: Option<&str>) -> Inbound {
        let mut headers = Vec::new();
        if let Some(o) = origin {
            headers.push(("origin".to_string(), o.to_string()));
        }
        if let Some(r) = requested {
            headers.push(("access-control-request-headers".to_string(), r.to_string()));
        }
        Inbound { method: crate::net::Method::OPTIONS, headers, ..Default::default() }
    }

    #[test]
    fn only_listed_origins_get_a_grant() {
        let allowed = vec!["https://app.example".to_string()];
        let r = preflight(&allowed, &req(Some("https://app.example"), Some("x-stainless-os, authorization")));
        assert_eq!(r.status, 204);
        assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example"));
        let h = r.header("access-control-allow-headers").unwrap();
        for want in ["authorization", "x-api-key", "anthropic-version", "anthropic-beta", "content-type", "x-stainless-os"] {
            assert!(h.contains(want), "{want}");
        }
        assert_eq!(r.header("access-control-max-age"), Some("600"));
        assert!(r.header("access-control-allow-methods").unwrap().contains("POST"));
        let r = preflight(&allowed, &req(Some("https://evil.example"), None));
        assert_eq!((r.status, r.header("access-control-allow-origin")), (204, None));
        assert_eq!(preflight(&[], &req(Some("https://app.example"), None)).header("access-control-allow-origin"), None);
        let r = decorate(&allowed, &req(Some("https://app.example"), None), Reply::empty(401));
        assert_eq!((r.status, r.header("access-control-allow-origin")), (401, Some("https://app.example")));
        let r = decorate(&allowed, &req(None, None), Reply::empty(200));
        assert_eq!(r.header("access-control-allow-origin"), None);
        let star = vec!["*".to_string()];
        assert_eq!(decorate(&star, &req(Some("http://x"), None), Reply::empty(200)).header("access-control-allow-origin"), Some("http://x"));
    }

    #[test]
    fn a_strange_requested_header_list_is_not_echoed() {
        let r = preflight(&["*".to_string()], &req(Some("http://x"), Some("a\r\nb")));
        assert!(!r.header("access-control-allow-headers").unwrap().contains('\n'));
    }
}
