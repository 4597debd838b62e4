//! `GET /admin/openapi.json`: the OpenAPI 3.1 description of the admin API. It is a file kept
//! next to the code (`openapi.json`); `table.rs` tests hold it to exactly the served routes.

use crate::net::Reply;

pub const DOCUMENT: &str = include_str!("openapi.json");

pub fn reply() -> Reply {
    Reply::json_bytes(200, DOCUMENT.as_bytes().to_vec()).with_header("cache-control", "public, max-age=300")
}
