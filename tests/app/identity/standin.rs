//! A stand-in for the App Service / Functions managed identity endpoint,
//! speaking its protocol: `GET $IDENTITY_ENDPOINT?api-version=2019-08-01&
//! resource=<resource>&client_id=<id>` with `X-IDENTITY-HEADER:
//! $IDENTITY_HEADER`, answered with `{"access_token", "expires_on" (epoch
//! seconds as a string), "resource", "token_type", "client_id"}`.
//!
//! The tokens are JWTs (HS256 under a key of this process) with what Azurite's
//! OAuth mode checks: `aud`, an Entra issuer, `iat`, `nbf`, `exp`. Each test
//! registers client ids of its own with a [`Profile`]: the audience (the
//! resource, or a wrong one), the lifetime (negative: already expired) and a
//! hook run before a token is handed out (the PostgreSQL test sets the role's
//! password there, as Entra would make the new token valid). An unknown
//! client id gets 400, as an identity not assigned to the app does.
//!
//! `scripts/services.sh` picks the port and exports `IDENTITY_ENDPOINT` and
//! `IDENTITY_HEADER` for the test run, because the identity crate reads them
//! from the environment (as on Azure); the first test that needs the
//! stand-in starts it, on a thread of its own, for the whole test binary.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::helpers::service_env;

/// The tenant in the tokens' issuer.
const TENANT: &str = "72f988bf-0000-4000-8000-00000000c0de";

/// Run with each token before it is handed out.
pub type OnIssue = Arc<dyn Fn(String) -> BoxFuture<'static, ()> + Send + Sync>;

/// How the stand-in answers for one client id.
#[derive(Clone)]
pub struct Profile {
    /// `aud` of the tokens; `None`: the requested resource (what Entra does).
    pub audience: Option<String>,
    /// Seconds from issue to `exp` (and `expires_on`); negative: expired.
    pub lifetime_secs: i64,
    /// Run with each token before it is handed out.
    pub on_issue: Option<OnIssue>,
}

impl Default for Profile {
    fn default() -> Self {
        Self { audience: None, lifetime_secs: 3600, on_issue: None }
    }
}

/// The running stand-in.
pub struct StandIn {
    profiles: Mutex<HashMap<String, Profile>>,
    issued: Mutex<HashMap<String, Vec<String>>>,
    header: String,
    key: [u8; 32],
}

static STANDIN: OnceLock<Arc<StandIn>> = OnceLock::new();

/// The stand-in, started on first use; `None` (after saying so) when the
/// test run has no `IDENTITY_ENDPOINT` (a failure under CI).
pub fn standin() -> Option<Arc<StandIn>> {
    let endpoint = service_env("IDENTITY_ENDPOINT", "the managed identity endpoint stand-in")?;
    let header = service_env("IDENTITY_HEADER", "the managed identity endpoint stand-in")?;
    Some(STANDIN.get_or_init(|| StandIn::start(&endpoint, header)).clone())
}

impl StandIn {
    fn start(endpoint: &str, header: String) -> Arc<Self> {
        let url = reqwest::Url::parse(endpoint).unwrap_or_else(|e| panic!("IDENTITY_ENDPOINT={endpoint:?}: {e}"));
        let port = url.port().unwrap_or_else(|| panic!("IDENTITY_ENDPOINT={endpoint:?} has no port"));
        let listener = TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("the identity stand-in cannot listen on 127.0.0.1:{port} ({endpoint}): {e}"));
        listener.set_nonblocking(true).unwrap();
        let this = Arc::new(Self { profiles: Mutex::default(), issued: Mutex::default(), header, key: rand::random() });
        let app = Router::new().route(url.path(), get(token)).with_state(this.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        this
    }

    /// Answers for `client_id` as `profile` says from now on.
    pub fn register(&self, client_id: &str, profile: Profile) {
        self.profiles.lock().unwrap().insert(client_id.to_owned(), profile);
    }

    /// Every token handed out to `client_id`, oldest first.
    pub fn issued(&self, client_id: &str) -> Vec<String> {
        self.issued.lock().unwrap().get(client_id).cloned().unwrap_or_default()
    }

    fn sign(&self, claims: &serde_json::Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).unwrap();
        mac.update(format!("{header}.{payload}").as_bytes());
        format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }
}

fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

async fn token(
    State(standin): State<Arc<StandIn>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if headers.get("x-identity-header").and_then(|v| v.to_str().ok()) != Some(standin.header.as_str()) {
        return refuse(StatusCode::UNAUTHORIZED, "unauthorized", "X-IDENTITY-HEADER missing or wrong");
    }
    if query.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "api-version must be 2019-08-01");
    }
    let Some(resource) = query.get("resource").cloned() else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "resource is required");
    };
    let client_id = query.get("client_id").cloned().unwrap_or_default();
    let Some(profile) = standin.profiles.lock().unwrap().get(&client_id).cloned() else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "Identity not found");
    };
    let now = chrono::Utc::now().timestamp();
    let expires_on = now + profile.lifetime_secs;
    let claims = json!({
        "aud": profile.audience.clone().unwrap_or_else(|| resource.clone()),
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "iat": now, "nbf": now - 60, "exp": expires_on,
        "appid": client_id, "oid": client_id, "sub": client_id, "tid": TENANT, "ver": "1.0",
        "uti": format!("{:016x}", rand::random::<u64>()),
    });
    let access_token = standin.sign(&claims);
    if let Some(hook) = &profile.on_issue {
        hook(access_token.clone()).await;
    }
    standin.issued.lock().unwrap().entry(client_id.clone()).or_default().push(access_token.clone());
    axum::Json(json!({
        "access_token": access_token, "expires_on": expires_on.to_string(), "resource": resource,
        "token_type": "Bearer", "client_id": client_id,
    }))
    .into_response()
}
