//! Counters: round-robin positions, global across isolates. One instance per requested name,
//! so unrelated models never contend. Each call returns the current values and increments them.

use std::cell::RefCell;
use std::collections::HashMap;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

#[durable_object]
pub struct Counters {
    state: State,
    cache: RefCell<HashMap<String, u64>>,
}

impl DurableObject for Counters {
    fn new(state: State, _env: Env) -> Self {
        Counters { state, cache: RefCell::new(HashMap::new()) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let keys: Vec<String> = req.json().await?;
        let storage = self.state.storage();
        let mut out = HashMap::new();
        for key in keys {
            let cached = self.cache.borrow().get(&key).copied();
            let value = match cached {
                Some(v) => v,
                None => storage.get::<u64>(&key).await?.unwrap_or(0),
            };
            // Input gates keep this read-modify-write atomic within the object.
            storage.put(&key, value + 1).await?;
            self.cache.borrow_mut().insert(key.clone(), value + 1);
            out.insert(key, value);
        }
        Response::from_json(&out)
    }
}

pub async fn next(env: &Env, shard: &str, keys: &[String]) -> Result<HashMap<String, u64>> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(keys)?.into()));
    let req = Request::new_with_init("https://counters/next", &init)?;
    let stub = env.durable_object("COUNTERS")?.id_from_name(shard)?.get_stub()?;
    let mut r = stub.fetch_with_request(req).await?;
    r.json().await
}
