//! Secrets from the Worker environment (secrets first, then plain vars) and the randomness that
//! sealing needs: a leaf every edge file may import (the admin handler, the database, the
//! platform and the snapshot loader all open sealed values).

use crate::auth::secrets::Sealer;
use worker::Env;

pub fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|s| s.to_string())).ok().filter(|s| !s.is_empty())
}

/// SECRETS_KEY seals node API keys; without it JWT_SECRET is used under a different label.
pub fn sealer(env: &Env) -> Sealer {
    Sealer::new(secret(env, "SECRETS_KEY").or_else(|| secret(env, "JWT_SECRET")).unwrap_or_default().as_bytes())
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("crypto.getRandomValues is available in Workers");
    b
}
