//! The HTTP functions' bindings, the router and the OpenAPI document agree:
//! every route template and method of an HTTP `function.json` is served and
//! documented, and every documented operation belongs to an HTTP function.

use reqwest::Method;
use serde_json::Value;

use crate::api::{KEY, spawn_api};
use crate::helpers::*;

/// The route prefix the host puts before HTTP routes.
fn route_prefix() -> String {
    let host: Value = serde_json::from_str(&std::fs::read_to_string(app_root().join("host.json")).unwrap()).unwrap();
    host["extensions"]["http"]["routePrefix"].as_str().unwrap_or("api").to_owned()
}

/// (function, route template, methods, forwarded) of every HTTP-triggered
/// function. The host forwards the raw request only to functions whose
/// bindings are exactly httpTrigger + http out; the others (with queue
/// outputs) get the wrapped request at `POST /<function>`.
fn all_http_functions() -> Vec<(String, String, Vec<String>, bool)> {
    function_names()
        .into_iter()
        .filter_map(|name| {
            let json = function_json(&name);
            let bindings = json["bindings"].as_array().unwrap().clone();
            let trigger = bindings.iter().find(|b| b["type"] == "httpTrigger")?.clone();
            let types: Vec<&str> = bindings.iter().map(|b| b["type"].as_str().unwrap()).collect();
            assert_eq!(&types[..2], ["httpTrigger", "http"], "{name}: the trigger, then the http output");
            let methods =
                trigger["methods"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect();
            Some((name, trigger["route"].as_str().unwrap().to_owned(), methods, types.len() == 2))
        })
        .collect()
}

/// Whether a concrete OpenAPI path fits a Functions route template (after the prefix).
fn fits(template: &str, path: &str) -> bool {
    let Some(rest) = path.strip_prefix(&format!("/{}/", route_prefix())) else { return false };
    let segments: Vec<&str> = rest.split('/').collect();
    let parts: Vec<&str> = template.split('/').collect();
    let required = parts.iter().filter(|p| !p.ends_with("?}")).count();
    if segments.len() < required || segments.len() > parts.len() {
        return false;
    }
    segments.iter().zip(&parts).all(|(s, p)| p.starts_with('{') || s == p)
}

fn document() -> Value {
    serde_json::from_str(chargeback::api::OPENAPI_JSON).unwrap()
}

fn operations() -> Vec<(String, String)> {
    let doc = document();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                out.push((path.clone(), method.to_owned()));
            }
        }
    }
    out
}

#[test]
fn every_http_function_route_and_method_is_documented_and_nothing_else_is() {
    let functions: Vec<(String, String, Vec<String>)> =
        all_http_functions().into_iter().map(|(n, t, m, _)| (n, t, m)).collect();
    let names: Vec<&str> = functions.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "admin",
            "capacity-query",
            "chargeback-query",
            "openapi",
            "reconciliation",
            "rollup-rerun",
            "rollup-start",
            "rollup-status",
            "usage-query"
        ]
    );
    let wrapped: Vec<String> = all_http_functions().into_iter().filter(|f| !f.3).map(|f| f.0).collect();
    assert_eq!(wrapped, ["rollup-rerun", "rollup-start"], "the functions with queue outputs");
    let documented = operations();
    for (name, template, methods) in &functions {
        for method in methods {
            assert!(
                documented.iter().any(|(path, m)| m == method && fits(template, path)),
                "{name}: {method} {template} is not in handlers/openapi.json"
            );
        }
    }
    for (path, method) in &documented {
        assert!(
            functions.iter().any(|(_, template, methods)| methods.contains(method) && fits(template, path)),
            "{method} {path} is documented but no function.json routes it, so the host would not forward it"
        );
    }
}

#[test]
fn the_rollup_and_chargeback_routes_belong_to_their_functions() {
    for (name, template, _, _) in all_http_functions() {
        let first = template.split('/').next().unwrap();
        let owner = name.starts_with("rollup-") || name == "chargeback-query";
        assert_eq!(["rollups", "chargeback"].contains(&first), owner, "{name} routes {template}");
    }
}

#[test]
fn host_json_forwards_http_requests_under_the_api_prefix() {
    let host: Value = serde_json::from_str(&std::fs::read_to_string(app_root().join("host.json")).unwrap()).unwrap();
    assert_eq!(host["customHandler"]["enableForwardingHttpRequest"], true);
    assert_eq!(route_prefix(), chargeback::api::ROUTE_PREFIX.trim_start_matches('/'));
    for (name, _, _, _) in all_http_functions() {
        let auth = function_json(&name)["bindings"][0]["authLevel"].clone();
        let expected = if name == "openapi" { "anonymous" } else { "function" };
        assert_eq!(auth, expected, "{name}");
    }
}

#[tokio::test]
async fn every_documented_operation_is_served_by_the_router() {
    let api = spawn_api().await;
    let doc = document();
    for (path, method) in operations() {
        let concrete =
            path.split('/').map(|s| if s.starts_with('{') { "example" } else { s }).collect::<Vec<_>>().join("/");
        let query = if concrete.ends_with("/usage") || concrete.ends_with("/capacity") {
            "?from=2026-11-01&to=2026-11-02"
        } else {
            ""
        };
        let body = match method.as_str() {
            "put" => Some(serde_json::json!({})),
            _ => None,
        };
        let method_ = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = api.call(method_, &format!("{concrete}{query}"), body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path}: {text}");
        assert!(!text.contains("no such route"), "{method} {path} is not routed: {text}");
        let documented = &doc["paths"][&path][&method]["responses"];
        assert!(documented.get(status.as_str()).is_some(), "{method} {path}: status {status} is not documented");
    }
    let _ = KEY;
}
