//! RS256 signature checks through the runtime's WebCrypto (`crypto.subtle`), so verifying
//! Cloudflare Access assertions adds no RSA code to the wasm module.

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

fn set(o: &Object, k: &str, v: &JsValue) -> Result<(), String> {
    Reflect::set(o, &JsValue::from_str(k), v).map(|_| ()).map_err(|e| format!("{e:?}"))
}

fn method(target: &JsValue, name: &str) -> Result<Function, String> {
    Reflect::get(target, &JsValue::from_str(name)).map_err(|e| format!("{e:?}"))?.dyn_into::<Function>().map_err(|_| format!("crypto.subtle.{name} is not a function"))
}

async fn call(subtle: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let promise = method(subtle, name)?.apply(subtle, &args.iter().collect::<Array>()).map_err(|e| format!("{name}: {e:?}"))?;
    JsFuture::from(Promise::from(promise)).await.map_err(|e| format!("{name}: {}", e.as_string().unwrap_or_else(|| format!("{e:?}"))))
}

/// RSASSA-PKCS1-v1_5 with SHA-256 over `message`, key from a JWK's `n` and `e`.
pub async fn verify_rs256(n: &str, e: &str, message: &[u8], signature: &[u8]) -> Result<bool, String> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).map_err(|e| format!("{e:?}"))?;
    let subtle = Reflect::get(&crypto, &JsValue::from_str("subtle")).map_err(|e| format!("{e:?}"))?;
    let jwk = Object::new();
    set(&jwk, "kty", &"RSA".into())?;
    set(&jwk, "n", &n.into())?;
    set(&jwk, "e", &e.into())?;
    set(&jwk, "alg", &"RS256".into())?;
    set(&jwk, "ext", &JsValue::TRUE)?;
    let algorithm = Object::new();
    set(&algorithm, "name", &"RSASSA-PKCS1-v1_5".into())?;
    let hash = Object::new();
    set(&hash, "name", &"SHA-256".into())?;
    set(&algorithm, "hash", &hash)?;
    let usages: Array = [JsValue::from_str("verify")].into_iter().collect();
    let key = call(&subtle, "importKey", &["jwk".into(), jwk.into(), algorithm.clone().into(), JsValue::FALSE, usages.into()]).await?;
    let ok = call(&subtle, "verify", &[algorithm.into(), key, Uint8Array::from(signature).into(), Uint8Array::from(message).into()]).await?;
    Ok(ok.as_bool() == Some(true))
}
