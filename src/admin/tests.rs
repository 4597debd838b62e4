//! The route table and the resource dispatchers must agree: every (method, template) in the
//! table reaches a handler. Handlers run against a database that is down, so each one answers
//! with an error of its own (400 for bad input, 503, ...) but never "no handler".

use super::audit::Actor;
use super::{dispatch, handle, table, AdminEnv, Ctx};
use crate::auth::secrets::Sealer;
use crate::error::GatewayError;
use crate::net::Inbound;
use crate::platform::fake::FakePlatform;
use crate::state::db::{Db, DbError, Param};
use futures::executor::block_on;
use serde_json::Value;

struct DownDb;

impl Db for DownDb {
    async fn json(&self, _: &str, _: &[Param]) -> Result<Value, DbError> {
        Err(DbError::Unavailable("test database is down".into()))
    }
    async fn exec(&self, _: &str, _: &[Param]) -> Result<u64, DbError> {
        Err(DbError::Unavailable("test database is down".into()))
    }
    async fn batch(&self, _: &str) -> Result<(), DbError> {
        Err(DbError::Unavailable("test database is down".into()))
    }
}

/// Origins refuse, the stream registry is unreachable: handlers fail on their own terms.
fn offline() -> FakePlatform {
    let p = FakePlatform::offline();
    *p.active.borrow_mut() = None;
    p
}

fn sample_path(template: &str) -> String {
    template
        .split('/')
        .map(|s| {
            if s == "{id}" {
                "1"
            } else if s.starts_with('{') {
                "sample"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn env<'a>(sealer: &'a Sealer, random: &'a dyn Fn(usize) -> Vec<u8>) -> AdminEnv<'a> {
    AdminEnv {
        admin_token: Some("test-admin-token".into()),
        admin_username: Some("admin".into()),
        admin_password: Some("pw".into()),
        jwt_secret: b"test-secret",
        sealer,
        now_s: 1_800_000_000,
        random,
    }
}

#[test]
fn every_table_route_reaches_a_handler() {
    let sealer = Sealer::new(b"k");
    let random = |n: usize| vec![7u8; n];
    let env = env(&sealer, &random);
    let own_flow = ["/admin/auth/login", "/admin/auth/logout", "/admin/openapi.json"];
    for (method, template) in table::all() {
        let path = sample_path(template);
        let req = Inbound {
            method: method.parse().unwrap(),
            path: path.clone(),
            body: b"{}".to_vec(),
            headers: vec![("authorization".into(), "Bearer test-admin-token".into())],
            ..Default::default()
        };
        if own_flow.contains(&template) {
            // Handled by `handle` before dispatch: must not fall through to "no route".
            let r = block_on(handle(&DownDb, &offline(), &env, &req));
            assert!(!matches!(r, Err(GatewayError::NotFound(_) | GatewayError::Internal(_) | GatewayError::MethodNotAllowed { .. })), "{method} {path}");
            continue;
        }
        let segs = super::segments(&path);
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        assert!(table::check(method, &segs).is_ok(), "{method} {path} is not accepted by its own table");
        let ctx = Ctx { db: &DownDb, platform: &offline(), env: &env, req: &req, actor: Actor { name: "t".into(), ip: None } };
        match block_on(dispatch(&ctx, method, &segs)) {
            None => panic!("{method} {template} is in the route table but no handler takes it"),
            Some(Err(GatewayError::Internal(m))) => panic!("{method} {template}: internal error {m}"),
            Some(_) => {}
        }
    }
}

#[test]
fn unknown_routes_never_reach_the_database() {
    let sealer = Sealer::new(b"k");
    let random = |n: usize| vec![7u8; n];
    let env = env(&sealer, &random);
    let cases = [("GET", "/admin/nope", 404), ("DELETE", "/admin/users", 405), ("GET", "/admin", 404), ("PATCH", "/admin/openapi.json", 405)];
    for (method, path, status) in cases {
        let req = Inbound { method: method.parse().unwrap(), path: path.into(), ..Default::default() };
        let e = block_on(handle(&DownDb, &offline(), &env, &req)).err().unwrap_or_else(|| panic!("{method} {path} succeeded"));
        assert_eq!(e.status(), status, "{method} {path}: {e}");
    }
    let req = Inbound { method: crate::net::Method::GET, path: "/admin/openapi.json".into(), ..Default::default() };
    let ok = block_on(handle(&DownDb, &offline(), &env, &req)).expect("the OpenAPI document needs neither credentials nor the database");
    assert_eq!(ok.reply.status, 200);
}
