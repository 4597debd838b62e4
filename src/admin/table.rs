//! The admin route table: every (method, path template) the admin API answers, gathered from the
//! resource files' `ROUTES`. It decides 404 versus 405 + `Allow` before credentials or the
//! database are looked at, and a test holds the OpenAPI document to exactly this list.

use crate::error::GatewayError;

pub use super::kit::Route;

/// Routes that belong to no resource file.
pub const ROUTES: &[Route] = &[
    ("POST", "/admin/auth/login"),
    ("POST", "/admin/auth/logout"),
    ("GET", "/admin/auth/me"),
    ("POST", "/admin/snapshot/publish"),
    ("GET", "/admin/openapi.json"),
];


pub fn all() -> Vec<Route> {
    [
        ROUTES,
        super::users::ROUTES,
        super::user_usage::ROUTES,
        super::keys::ROUTES,
        super::teams::ROUTES,
        super::admins::ROUTES,
        super::nodes::ROUTES,
        super::nodes::ops::ROUTES,
        super::model_mappings::ROUTES,
        super::model_groups::ROUTES,
        super::settings::ROUTES,
        super::model_config::ROUTES,
        super::tool_sets::ROUTES,
        super::system_prompts::ROUTES,
        super::audit_logs::ROUTES,
        super::requests::ROUTES,
        super::dashboard::ROUTES,
        super::models::ROUTES,
        super::node_access::ROUTES,
        super::observe::ROUTES,
        super::prices::ROUTES,
        super::budgets::ROUTES,
        super::costs::ROUTES,
    ]
    .concat()
}

/// Does `template` match the decoded path segments after `/admin`?
pub fn matches(template: &str, segs: &[&str]) -> bool {
    // strip_prefix, not trim_start_matches: the latter would eat `/admin` twice from `/admin/admins`.
    let parts: Vec<&str> = template.strip_prefix("/admin").unwrap_or(template).split('/').filter(|s| !s.is_empty()).collect();
    parts.len() == segs.len()
        && parts.iter().zip(segs).all(|(p, s)| match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some("id") => !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() <= 18,
            Some(_) => !s.is_empty(),
            None => p == s,
        })
}

const METHOD_ORDER: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Ok when some route takes `method` on this path; otherwise 404 (unknown path) or 405 with
/// every method the path does take.
pub fn check(method: &str, segs: &[&str]) -> Result<(), GatewayError> {
    let routes = all();
    let mut allowed: Vec<&str> = routes.iter().filter(|(_, t)| matches(t, segs)).map(|(m, _)| *m).collect();
    if allowed.is_empty() {
        return Err(GatewayError::NotFound(format!("no admin route /admin/{}", segs.join("/"))));
    }
    if allowed.contains(&method) {
        return Ok(());
    }
    allowed.sort_by_key(|m| METHOD_ORDER.iter().position(|o| o == m).unwrap_or(usize::MAX));
    allowed.dedup();
    Err(GatewayError::MethodNotAllowed { allow: allowed.join(", ").into() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeSet;

    #[test]
    fn no_route_is_listed_twice() {
        let routes = all();
        let unique: BTreeSet<_> = routes.iter().collect();
        assert_eq!(unique.len(), routes.len(), "duplicate entries in the admin route table");
        for (m, t) in &routes {
            assert!(METHOD_ORDER.contains(m), "{m} {t}");
            assert!(t.starts_with("/admin/"), "{t}");
        }
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
        assert!(check("GET", &["users"]).is_ok());
        assert!(matches!(check("GET", &["nope"]), Err(GatewayError::NotFound(_))));
        assert!(matches!(check("GET", &["nodes", "abc"]), Err(GatewayError::NotFound(_))));
        match check("DELETE", &["users"]) {
            Err(GatewayError::MethodNotAllowed { allow }) => assert_eq!(allow, "GET, POST"),
            other => panic!("{other:?}"),
        }
        match check("GET", &["nodes", "sync-all"]) {
            Err(GatewayError::MethodNotAllowed { allow }) => assert_eq!(allow, "POST"),
            other => panic!("{other:?}"),
        }
        // Literal and parameter templates on one path: the union of their methods.
        assert!(check("DELETE", &["users", "bob", "models", "all"]).is_ok());
        assert!(check("POST", &["users", "bob", "models", "all"]).is_ok());
        assert!(check("GET", &["nodes", "load"]).is_ok());
        assert!(check("GET", &["admins"]).is_ok());
        assert!(check("DELETE", &["admins", "a@b.c"]).is_ok());
        assert!(check("GET", &["nodes", "12"]).is_ok());
        assert!(check("PUT", &["system-prompts", "reorder"]).is_ok());
        match check("GET", &["system-prompts", "reorder"]) {
            Err(GatewayError::MethodNotAllowed { allow }) => assert_eq!(allow, "PUT"),
            other => panic!("{other:?}"),
        }
    }

    /// The OpenAPI document describes exactly the routes the table serves.
    #[test]
    fn openapi_document_matches_the_route_table() {
        let doc: Value = serde_json::from_str(super::super::openapi::DOCUMENT).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, _) in item.as_object().expect("path item").iter().filter(|(k, _)| METHOD_ORDER.contains(&k.to_ascii_uppercase().as_str())) {
                documented.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
        let served: BTreeSet<(String, String)> = all().iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let phantom: Vec<_> = documented.difference(&served).collect();
        assert!(undocumented.is_empty(), "routes missing from src/admin/openapi.json: {undocumented:?}");
        assert!(phantom.is_empty(), "documented routes the table does not serve: {phantom:?}");
    }

    /// Every `$ref` resolves, and every operation documents its error answers.
    #[test]
    fn openapi_references_resolve_and_errors_are_documented() {
        let doc: Value = serde_json::from_str(super::super::openapi::DOCUMENT).unwrap();
        fn walk(v: &Value, doc: &Value, bad: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        let ptr = r.trim_start_matches('#');
                        if doc.pointer(ptr).is_none() {
                            bad.push(r.clone());
                        }
                    }
                    m.values().for_each(|x| walk(x, doc, bad));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, doc, bad)),
                _ => {}
            }
        }
        let mut bad = Vec::new();
        walk(&doc, &doc, &mut bad);
        assert!(bad.is_empty(), "unresolved refs: {bad:?}");
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap().iter().filter(|(k, _)| METHOD_ORDER.contains(&k.to_ascii_uppercase().as_str())) {
                let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}: no responses"));
                assert!(responses.keys().any(|k| k.starts_with('2')), "{method} {path}: no success response");
                let mut wanted: Vec<&str> = match path.as_str() {
                    "/admin/openapi.json" => vec![],
                    "/admin/auth/login" => vec!["400", "401", "429", "503"],
                    _ => vec!["401", "503"],
                };
                if path.contains('{') {
                    wanted.push("404");
                }
                for code in wanted {
                    assert!(responses.contains_key(code), "{method} {path}: {code} not documented");
                }
                // Action routes without input still declare their (optional, empty) body.
                let bodied = matches!(method.as_str(), "post" | "put" | "patch");
                assert!(!bodied || op.get("requestBody").is_some(), "{method} {path}: no requestBody");
            }
        }
    }

    /// `SettingsInput` documents exactly the settings `settings::DEFINITIONS` accepts, with the
    /// same type and bounds: a setting added in Rust and not in the document fails here.
    #[test]
    fn openapi_settings_input_matches_the_definitions() {
        use crate::settings::{Kind, DEFINITIONS};
        let doc: Value = serde_json::from_str(super::super::openapi::DOCUMENT).unwrap();
        let props = doc.pointer("/components/schemas/SettingsInput/properties").and_then(Value::as_object).expect("SettingsInput.properties");
        for d in DEFINITIONS {
            let p = props.get(d.key).unwrap_or_else(|| panic!("setting {} missing from SettingsInput in src/admin/openapi.json", d.key));
            let ty = &p["type"];
            match d.kind {
                Kind::Int { min, max } => {
                    assert_eq!(ty, "integer", "{}", d.key);
                    assert_eq!((p["minimum"].as_i64(), p["maximum"].as_i64()), (Some(min), Some(max)), "{}: bounds", d.key);
                }
                Kind::Bool => assert_eq!(ty, "boolean", "{}", d.key),
                Kind::Str => assert_eq!(ty, "string", "{}", d.key),
                Kind::StrList => assert_eq!(ty, "array", "{}", d.key),
                Kind::OptStr => {
                    let types: Vec<&str> = ty.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                    assert!(types.contains(&"string") && types.contains(&"null"), "{}: {ty}", d.key);
                }
            }
        }
        let known: BTreeSet<&str> = DEFINITIONS.iter().map(|d| d.key).collect();
        let phantom: Vec<&String> = props.keys().filter(|k| !known.contains(k.as_str())).collect();
        assert!(phantom.is_empty(), "documented settings that do not exist: {phantom:?}");
    }
}
