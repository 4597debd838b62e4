//! Coordinator (one instance, "global"): the authoritative routing-snapshot version. Strongly
//! consistent, so every isolate learns of an admin change on its next check.

use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

#[durable_object]
pub struct Coordinator {
    state: State,
}

#[derive(Serialize, Deserialize)]
struct Version {
    version: u64,
}

impl DurableObject for Coordinator {
    fn new(state: State, _env: Env) -> Self {
        Coordinator { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let storage = self.state.storage();
        let current: u64 = storage.get("version").await?.unwrap_or(0);
        match req.method() {
            Method::Get => Response::from_json(&Version { version: current }),
            Method::Post => {
                let v: Version = req.json().await?;
                let next = current.max(v.version);
                if next != current {
                    storage.put("version", next).await?;
                }
                Response::from_json(&Version { version: next })
            }
            _ => Response::error("method not allowed", 405),
        }
    }
}

fn stub(env: &Env) -> Result<worker::Stub> {
    env.durable_object("COORDINATOR")?.id_from_name("global")?.get_stub()
}

pub async fn version(env: &Env) -> Result<u64> {
    let mut r = stub(env)?.fetch_with_str("https://coordinator/version").await?;
    Ok(r.json::<Version>().await?.version)
}

pub async fn set_version(env: &Env, version: u64) -> Result<u64> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(&Version { version })?.into()));
    let req = Request::new_with_init("https://coordinator/version", &init)?;
    let mut r = stub(env)?.fetch_with_request(req).await?;
    Ok(r.json::<Version>().await?.version)
}
