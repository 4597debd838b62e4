//! `GET /admin/requests`: the request log (one `usage_records` row per gateway request), newest
//! first, filtered by user, model, status class or code, endpoint, client and time.

use super::query::{self, Window};
use super::kit::{ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::json;

pub const ROUTES: &[super::kit::Route] = &[("GET", "/admin/requests")];

/// The columns of a request row as the API shows it (also used by a user's activity).
pub const COLUMNS: &str = "id, created_at, username, requested_model, resolved_model, real_model, node_id, node_name, endpoint, dialect, client,
    stream, status, prompt_tokens, completion_tokens, total_tokens, estimated, duration_ms, ttfb_ms, error";

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    match (method, segs) {
        ("GET", []) => Some(list(ctx).await),
        _ => None,
    }
}

/// `status`: a class (`2xx`, `4xx`, `5xx`, also `1xx`/`3xx`) or one code -> [low, high].
pub fn status_range(s: &str) -> Result<(i64, i64), GatewayError> {
    let bad = || GatewayError::bad_field("status", "'status' must be a class such as 2xx, 4xx or 5xx, or an HTTP status code (100-599)");
    let b = s.as_bytes();
    if b.len() == 3 && b[1..].eq_ignore_ascii_case(b"xx") && (b'1'..=b'5').contains(&b[0]) {
        let c = i64::from(b[0] - b'0') * 100;
        return Ok((c, c + 99));
    }
    match s.parse::<i64>() {
        Ok(code) if (100..=599).contains(&code) => Ok((code, code)),
        _ => Err(bad()),
    }
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let req = ctx.req;
    let page = query::page(req, 25)?;
    let Window { start, end } = query::dates(req)?;
    let status = query::text(req, "status").map(|s| status_range(&s)).transpose()?;
    let sql = format!(
        "WITH f AS (
           SELECT {COLUMNS} FROM usage_records
           WHERE ($1::text IS NULL OR username = $1::text)
             AND ($2::text IS NULL OR requested_model = $2::text OR resolved_model = $2::text OR real_model = $2::text)
             AND ($3::bigint IS NULL OR status BETWEEN $3::bigint AND $4::bigint)
             AND ($5::text IS NULL OR endpoint = $5::text)
             AND ($6::text IS NULL OR client = $6::text)
             AND ($7::text IS NULL OR created_at >= $7::text::timestamptz)
             AND ($8::text IS NULL OR created_at < $8::text::timestamptz))
         SELECT json_build_object(
           'requests', COALESCE((SELECT json_agg(x ORDER BY x.created_at DESC, x.id DESC) FROM (SELECT * FROM f ORDER BY created_at DESC, id DESC LIMIT $9::bigint OFFSET $10::bigint) x), '[]'::json),
           'total', (SELECT count(*) FROM f))::text"
    );
    let v = ctx
        .json(
            &sql,
            &[
                Param::Text(query::text(req, "username")),
                Param::Text(query::text(req, "model")),
                Param::Int(status.map(|s| s.0)),
                Param::Int(status.map(|s| s.1)),
                Param::Text(query::text(req, "endpoint")),
                Param::Text(query::text(req, "client")),
                Param::Text(start.as_ref().map(query::rfc3339)),
                Param::Text(end.as_ref().map(query::rfc3339)),
                Param::Int(Some(page.limit)),
                Param::Int(Some(page.offset)),
            ],
        )
        .await?;
    ok(json!({"requests": v["requests"], "total": v["total"], "limit": page.limit, "offset": page.offset}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters() {
        assert_eq!(status_range("2xx").unwrap(), (200, 299));
        assert_eq!(status_range("5XX").unwrap(), (500, 599));
        assert_eq!(status_range("429").unwrap(), (429, 429));
        for bad in ["6xx", "0xx", "99", "600", "ok", "4x", "2xxx"] {
            assert_eq!(status_range(bad).unwrap_err().field(), Some("status"), "{bad}");
        }
    }
}
