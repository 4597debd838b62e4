//! Single sign-on for the admin API and dashboard through Cloudflare Access. When Access is
//! configured (settings `access.team_domain` and `access.audience`) and a request carries
//! `Cf-Access-Jwt-Assertion` but no `Authorization` header, the assertion decides: RS256 against
//! the team's keys (fetched from `access.certs_url`, default the team's
//! `/cdn-cgi/access/certs`, cached per isolate for 10 minutes and refetched at most every 30 s
//! for an unknown `kid`), the audience, the expiry, and the email must be in `admin_emails`.
//! A bad, expired or foreign token is 401; a valid one for an email with no admin entry is 403.
//! `ADMIN_TOKEN` and password sessions keep working (an `Authorization` header takes
//! precedence); `admin.password_login = false` turns the password login off.

use crate::net::Method;
use crate::auth::access::{self, AccessError, Expect, RsaKey};
use crate::error::GatewayError;
use crate::origins::call;
use crate::net::{Inbound, Outbound};
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;

pub const HEADER: &str = "cf-access-jwt-assertion";
const KEYS_TTL_MS: u64 = 10 * 60_000;
const REFETCH_MIN_MS: u64 = 30_000;
const FETCH_DEADLINE_MS: u64 = 5_000;
const MAX_CERTS_BYTES: usize = 256 * 1024;

/// An admin who signed in through Access: the email and, for a team admin, the team.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessAdmin {
    pub email: String,
    pub team: Option<(i64, String)>,
}

struct Config {
    team_domain: String,
    audience: String,
    certs_url: String,
}

const SETTINGS_SQL: &str =
    "SELECT COALESCE(json_object_agg(key, value), '{}'::json)::text FROM settings WHERE key IN ('access.team_domain', 'access.audience', 'access.certs_url', 'admin.password_login')";

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

async fn config<D: Db>(db: &D) -> Result<(Option<Config>, bool), GatewayError> {
    let s = db.json(SETTINGS_SQL, &[]).await?;
    let password_login = s["admin.password_login"].as_bool().unwrap_or(true);
    let cfg = match (text(&s["access.team_domain"]), text(&s["access.audience"])) {
        (Some(team_domain), Some(audience)) => {
            let certs_url = text(&s["access.certs_url"]).unwrap_or_else(|| access::certs_url(&team_domain));
            Some(Config { team_domain, audience, certs_url })
        }
        _ => None,
    };
    Ok((cfg, password_login))
}

/// 403 when the setting `admin.password_login` is false.
pub async fn password_login_allowed<D: Db>(db: &D) -> Result<(), GatewayError> {
    match config(db).await?.1 {
        true => Ok(()),
        false => Err(GatewayError::Forbidden("password login is turned off (admin.password_login); sign in through Cloudflare Access".into())),
    }
}

thread_local! {
    /// certs URL -> (fetched at ms, keys).
    static KEYS: RefCell<HashMap<String, (u64, Vec<RsaKey>)>> = RefCell::new(HashMap::new());
}

/// The key `kid` from the cache, or after a (rate-limited) fetch.
async fn key<P: Platform>(platform: &P, url: &str, kid: &str) -> Result<RsaKey, AccessError> {
    let now = platform.now_ms();
    let cached = KEYS.with(|k| k.borrow().get(url).cloned());
    if let Some((at, keys)) = &cached {
        let fresh = now.saturating_sub(*at) < KEYS_TTL_MS;
        if let Some(k) = keys.iter().find(|k| k.kid == kid).filter(|_| fresh) {
            return Ok(k.clone());
        }
        if now.saturating_sub(*at) < REFETCH_MIN_MS {
            return Err(AccessError::UnknownKey(kid.chars().take(64).collect()));
        }
    }
    let keys = fetch_keys(platform, url).await?;
    KEYS.with(|k| k.borrow_mut().insert(url.to_string(), (now, keys.clone())));
    keys.into_iter().find(|k| k.kid == kid).ok_or_else(|| AccessError::UnknownKey(kid.chars().take(64).collect()))
}

async fn fetch_keys<P: Platform>(platform: &P, url: &str) -> Result<Vec<RsaKey>, AccessError> {
    let out = Outbound { method: Method::GET, url: url.to_string(), headers: vec![("accept".into(), "application/json".into())], body: None };
    let (status, bytes) = call::whole(platform, out, FETCH_DEADLINE_MS, MAX_CERTS_BYTES).await.map_err(|e| AccessError::Keys(format!("{url}: {e}")))?;
    if status != 200 {
        return Err(AccessError::Keys(format!("{url} answered {status}")));
    }
    access::parse_jwks(&bytes)
}

/// `None` when the request is not an Access sign-in (no assertion, an `Authorization` header,
/// or Access not configured); otherwise the admin, or the reason it is refused.
pub async fn authenticate<D: Db, P: Platform>(db: &D, platform: &P, req: &Inbound, now_s: i64) -> Result<Option<AccessAdmin>, GatewayError> {
    let Some(assertion) = req.header(HEADER).map(str::trim).filter(|a| !a.is_empty()) else { return Ok(None) };
    if req.header("authorization").is_some() {
        return Ok(None);
    }
    let Some(cfg) = config(db).await?.0 else { return Ok(None) };
    let unauthorized = |e: AccessError| match e {
        AccessError::Keys(_) => GatewayError::Dependency(e.to_string()),
        _ => GatewayError::Unauthorized(e.to_string()),
    };
    let issuer = access::issuer(&cfg.team_domain);
    let a = access::decode(assertion, &Expect { audience: &cfg.audience, issuer: &issuer, now_s }).map_err(unauthorized)?;
    let k = key(platform, &cfg.certs_url, &a.kid).await.map_err(unauthorized)?;
    match platform.verify_rs256(&k.n, &k.e, &a.signed, &a.signature).await {
        Ok(true) => {}
        Ok(false) => return Err(unauthorized(AccessError::BadSignature)),
        Err(e) => return Err(GatewayError::Dependency(format!("cannot verify Access tokens here: {e}"))),
    }
    let row = db
        .json(
            "SELECT json_build_object('email', a.email, 'team_id', a.team_id, 'team', t.name) FROM admin_emails a LEFT JOIN teams t ON t.id = a.team_id WHERE a.email = $1::text",
            &[Param::Text(Some(a.email.clone()))],
        )
        .await?;
    if row.is_null() {
        return Err(GatewayError::Forbidden(format!("{} has no admin access here; an admin can add it under admin accounts", a.email)));
    }
    let team = row["team_id"].as_i64().map(|id| (id, row["team"].as_str().unwrap_or_default().to_string()));
    Ok(Some(AccessAdmin { email: a.email, team }))
}
