//! `GET|PUT /api/admin/{collection}` and `GET|PUT|DELETE
//! /api/admin/{collection}/{key}`: the admin collections over HTTP.
//!
//! Every answer carries the collection's `ETag`; a write with `If-Match`
//! happens only if the collection is still at that version (else 412), a
//! write without it is applied to the latest version (retried on a race).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::wire::{entry_from_json, entry_json, list_json, value_from_json};
use crate::api::ApiState;
use crate::api::params::{QueryParams, name_param};
use crate::api::problem::ApiError;
use crate::directory::{Applications, Budgets, BusinessUnits, Collection, Deployments, Expected, Version};
use crate::domain::Name;

/// The collections, as path segments.
pub const COLLECTIONS: [&str; 4] = [Applications::NAME, BusinessUnits::NAME, Deployments::NAME, Budgets::NAME];

/// Runs `$f::<C>($args)` for the collection named `$name`.
macro_rules! dispatch {
    ($name:expr, $f:ident ( $($arg:expr),* )) => {
        match $name.as_str() {
            Applications::NAME => $f::<Applications>($($arg),*).await,
            BusinessUnits::NAME => $f::<BusinessUnits>($($arg),*).await,
            Deployments::NAME => $f::<Deployments>($($arg),*).await,
            Budgets::NAME => $f::<Budgets>($($arg),*).await,
            _ => Err(ApiError::NotFound(format!("no admin collection here; use one of: {}", COLLECTIONS.join(", ")))),
        }
    };
}

/// What `If-Match` asks for: no header or `*` is the latest version; an
/// entity tag this API never produced matches nothing.
fn precondition(headers: &HeaderMap) -> Result<Expected, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(Expected::Latest) };
    let value = value.to_str().map_err(|_| ApiError::invalid("If-Match", "not a visible ASCII entity tag"))?.trim();
    if value == "*" {
        return Ok(Expected::Latest);
    }
    Ok(Version::from_etag(value).map_or(Expected::Never, Expected::Version))
}

fn with_etag(mut response: Response, version: &Version) -> Response {
    if let Ok(value) = HeaderValue::from_str(&version.etag()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

fn no_query(query: Option<String>) -> Result<(), ApiError> {
    QueryParams::parse(query.as_deref(), &[]).map(|_| ())
}

fn path<T>(extracted: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    extracted.map(|Path(p)| p).map_err(|_| ApiError::invalid("path", "the path segments are not valid UTF-8 text"))
}

fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidBody(format!("not JSON: {e}")))
}

/// Applies `change` to the latest entries and writes them, honouring `If-Match`.
async fn modify<C: Collection, T>(
    state: &ApiState,
    headers: &HeaderMap,
    change: impl Fn(&mut BTreeMap<Name, C::Value>) -> Result<T, ApiError>,
) -> Result<(T, BTreeMap<Name, C::Value>, Version), ApiError> {
    let expected = precondition(headers)?;
    state.directory.modify::<C, T, ApiError>(&state.tenant, &expected, change).await
}

/// `GET /api/admin/{collection}`: every entry.
pub async fn list(
    State(state): State<ApiState>,
    collection: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let collection = path(collection)?;
    no_query(query)?;
    dispatch!(collection, list_of(&state))
}

async fn list_of<C: Collection>(state: &ApiState) -> Result<Response, ApiError> {
    let snapshot = state.directory.read::<C>(&state.tenant).await?;
    Ok(with_etag(Json(list_json::<C>(&snapshot.entries)).into_response(), &snapshot.version))
}

/// `PUT /api/admin/{collection}`: replaces every entry (`{"items": [...]}`).
pub async fn replace(
    State(state): State<ApiState>,
    collection: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let collection = path(collection)?;
    no_query(query)?;
    dispatch!(collection, replace_all(&state, &headers, &body))
}

async fn replace_all<C: Collection>(state: &ApiState, headers: &HeaderMap, body: &Bytes) -> Result<Response, ApiError> {
    let Value::Object(mut document) = json_body(body)? else {
        return Err(ApiError::InvalidBody("the body must be an object {\"items\": [...]}".into()));
    };
    let items = match (document.remove("items"), document.is_empty()) {
        (Some(Value::Array(items)), true) => items,
        _ => {
            return Err(ApiError::InvalidBody("the body must be an object {\"items\": [...]} and nothing else".into()));
        }
    };
    let mut new_entries = BTreeMap::new();
    for (i, item) in items.into_iter().enumerate() {
        let (key, value) = entry_from_json::<C>(item).map_err(|e| ApiError::InvalidBody(format!("items[{i}]: {e}")))?;
        if new_entries.insert(key.clone(), value).is_some() {
            return Err(ApiError::InvalidBody(format!("items[{i}]: {} {key} is given twice", C::KEY_FIELD)));
        }
    }
    let ((), entries, version) = modify::<C, ()>(state, headers, |entries| {
        entries.clone_from(&new_entries);
        Ok(())
    })
    .await?;
    Ok(with_etag(Json(list_json::<C>(&entries)).into_response(), &version))
}

/// `GET /api/admin/{collection}/{key}`: one entry.
pub async fn get_one(
    State(state): State<ApiState>,
    segments: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (collection, key) = path(segments)?;
    no_query(query)?;
    dispatch!(collection, get_entry(&state, &key))
}

async fn get_entry<C: Collection>(state: &ApiState, key: &str) -> Result<Response, ApiError> {
    let key = name_param("key", key)?;
    let snapshot = state.directory.read::<C>(&state.tenant).await?;
    let value = snapshot.entries.get(&key).ok_or_else(|| missing::<C>(&key))?;
    Ok(with_etag(Json(entry_json::<C>(&key, value)).into_response(), &snapshot.version))
}

fn missing<C: Collection>(key: &Name) -> ApiError {
    ApiError::NotFound(format!("no {} entry with {} {key:?}", C::NAME, C::KEY_FIELD))
}

/// `PUT /api/admin/{collection}/{key}`: creates or replaces one entry (the
/// body is the entry without its key, or with the same key).
pub async fn put_one(
    State(state): State<ApiState>,
    segments: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (collection, key) = path(segments)?;
    no_query(query)?;
    dispatch!(collection, put_entry(&state, &key, &headers, &body))
}

async fn put_entry<C: Collection>(
    state: &ApiState,
    key: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let key = name_param("key", key)?;
    let Value::Object(mut object) = json_body(body)? else {
        return Err(ApiError::InvalidBody("the body must be a JSON object".into()));
    };
    if let Some(given) = object.remove(C::KEY_FIELD)
        && given.as_str().map(str::trim) != Some(key.as_str())
    {
        return Err(ApiError::InvalidBody(format!("{} differs from the key in the path", C::KEY_FIELD)));
    }
    let value = value_from_json::<C>(Value::Object(object)).map_err(ApiError::InvalidBody)?;
    let (created, _, version) =
        modify::<C, bool>(state, headers, |entries| Ok(entries.insert(key.clone(), value.clone()).is_none())).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(with_etag((status, Json(entry_json::<C>(&key, &value))).into_response(), &version))
}

/// `DELETE /api/admin/{collection}/{key}`: removes one entry.
pub async fn delete_one(
    State(state): State<ApiState>,
    segments: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (collection, key) = path(segments)?;
    no_query(query)?;
    dispatch!(collection, delete_entry(&state, &key, &headers))
}

async fn delete_entry<C: Collection>(state: &ApiState, key: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let key = name_param("key", key)?;
    let ((), _, version) =
        modify::<C, ()>(state, headers, |entries| entries.remove(&key).map(|_| ()).ok_or_else(|| missing::<C>(&key)))
            .await?;
    Ok(with_etag(StatusCode::NO_CONTENT.into_response(), &version))
}
