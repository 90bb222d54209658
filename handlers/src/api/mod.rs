//! The HTTP query and administration API (`docs/api.md`, `handlers/openapi.json`).
//!
//! The Functions host forwards each HTTP-triggered request as it is
//! (`enableForwardingHttpRequest`), to the same path (`/api/<route>`), so
//! one axum router serves the API under the host and, with `chargeback
//! serve` on its own, standalone. Under the host the host checks the
//! function keys (`authLevel: function`); standalone, [`Access`] checks
//! `CHARGEBACK_API_KEY` the same way (header `x-functions-key` or query
//! parameter `code`).
//!
//! Every route is a thin adapter: it reads its parameters into domain types
//! (a 400 problem naming the parameter otherwise), calls a service, and
//! writes the answer; service errors become RFC 9457 problems in one place
//! ([`problem`]).
//!
//! - [`usage`]: `GET /api/usage` (the usage service);
//! - [`capacity`]: `GET /api/capacity` (the usage service's capacity view);
//! - [`admin`]: `/api/admin/{collection}[/{key}]` (the directory);
//! - [`rollups`]: `/api/rollups/{period}[/rerun]` and `GET /api/chargeback/{period}[/{file}]` (the rollup);
//! - [`reconcile`]: `POST /api/reconciliations/{period}`, the month against Azure's invoice (the rollup's
//!   reconciliation);
//! - `GET /api/openapi.json`: the OpenAPI document (no key needed).

pub mod admin;
pub mod capacity;
pub mod params;
pub mod problem;
pub mod reconcile;
pub mod rollups;
pub mod usage;

use axum::Router;
use axum::extract::{FromRef, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

use crate::directory::Directory;
use crate::domain::Tenant;
use crate::rollup::Rollups;
use crate::usage::Usage;
use problem::ApiError;

/// The services the API calls.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The tenant the API answers for.
    pub tenant: Tenant,
    /// Usage and capacity.
    pub usage: Usage,
    /// The administration data.
    pub directory: Directory,
    /// The monthly rollup and its results.
    pub rollups: Rollups,
}

/// Where the host puts HTTP routes (`extensions.http.routePrefix`, default `api`).
pub const ROUTE_PREFIX: &str = "/api";

/// The OpenAPI document, as checked in.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

/// The header the Functions host (and the standalone server) takes a key from.
pub const KEY_HEADER: &str = "x-functions-key";

/// Who may call the API.
#[derive(Clone)]
pub enum Access {
    /// Behind the Functions host, which enforces the functions' `authLevel`
    /// before forwarding (the handler listens on loopback only).
    Host,
    /// Standalone with a key: the SHA-256 of `CHARGEBACK_API_KEY`.
    Key([u8; 32]),
    /// Standalone without authentication (`CHARGEBACK_API_AUTH=none`).
    Open,
    /// Standalone without a key and not opened: the API refuses to serve.
    Refused,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Host => "Host",
            Self::Key(_) => "Key(<redacted>)",
            Self::Open => "Open",
            Self::Refused => "Refused",
        })
    }
}

impl Access {
    /// Behind the Functions host (it gave a port), else with `key` when
    /// one is configured, else open when asked for, else refused.
    pub fn new(under_host: bool, key: Option<&[u8]>, no_auth: bool) -> Self {
        if under_host {
            Self::Host
        } else if let Some(key) = key {
            Self::Key(Sha256::digest(key).into())
        } else if no_auth {
            Self::Open
        } else {
            Self::Refused
        }
    }

    fn check(&self, request: &Request) -> Result<(), ApiError> {
        let expected = match self {
            Self::Host | Self::Open => return Ok(()),
            Self::Refused => {
                return Err(ApiError::NotConfigured(
                    "outside the Functions host every route needs CHARGEBACK_API_KEY (or CHARGEBACK_API_AUTH=none for local trials)",
                ));
            }
            Self::Key(digest) => digest,
        };
        let from_header = request.headers().get(KEY_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let from_query = request.uri().query().and_then(|q| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                .ok()?
                .into_iter()
                .find(|(k, _)| k == params::KEY_PARAMETER)
                .map(|(_, v)| v)
        });
        let given = from_header.or(from_query).ok_or(ApiError::Unauthorized)?;
        let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        if digest == *expected { Ok(()) } else { Err(ApiError::Unauthorized) }
    }
}

/// The key check as middleware (`from_fn_with_state(access, require_key)`):
/// the API's routes take it, and so do the functions' routes, outside the host.
pub async fn require_key(State(access): State<Access>, request: Request, next: Next) -> Response {
    match access.check(&request) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// The API's routes, each under [`ROUTE_PREFIX`]: one line per route, so a
/// new HTTP function (with its folder and `function.json`) adds one line here
/// and its paths in `handlers/openapi.json`.
pub fn routes<S>(access: Access) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    if matches!(access, Access::Refused) {
        tracing::warn!("the handler refuses requests: set CHARGEBACK_API_KEY (or CHARGEBACK_API_AUTH=none)");
    }
    let keyed = Router::new()
        .route("/api/usage", get(usage::get_usage))
        .route("/api/capacity", get(capacity::get_capacity))
        .route("/api/admin/{collection}", get(admin::routes::list).put(admin::routes::replace))
        .route(
            "/api/admin/{collection}/{key}",
            get(admin::routes::get_one).put(admin::routes::put_one).delete(admin::routes::delete_one),
        )
        .route("/api/rollups/{period}", get(rollups::get_status).post(rollups::start))
        .route("/api/rollups/{period}/rerun", post(rollups::rerun))
        .route("/api/chargeback/{period}", get(rollups::get_chargeback))
        .route("/api/chargeback/{period}/{file}", get(rollups::get_report_file))
        .route(
            "/api/reconciliations/{period}",
            post(reconcile::post_reconciliation)
                .layer(axum::extract::DefaultBodyLimit::max(reconcile::MAX_INVOICE_BYTES)),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(access, require_key));
    Router::new().route("/api/openapi.json", get(openapi)).method_not_allowed_fallback(method_not_allowed).merge(keyed)
}

async fn openapi() -> Response {
    let mut response = OPENAPI_JSON.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}

/// The answer to a path no route serves: a 404 problem.
pub async fn not_found() -> Response {
    ApiError::NotFound("no such route; see /api/openapi.json".into()).into_response()
}
