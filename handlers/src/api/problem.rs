//! Errors of the HTTP API as RFC 9457 problem details
//! (`application/problem+json`): bad input is a 4xx naming the parameter at
//! fault; anything else is an opaque 5xx, logged once with its causes, that
//! says nothing about the internals. Every service error is mapped here,
//! once.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::error;

use crate::directory::DirectoryError;
use crate::rollup::RollupError;
use crate::storage::StorageError;
use crate::usage::UsageError;

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Why an API request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter, path segment, header or body field is wrong.
    #[error("{parameter}: {detail}")]
    InvalidParameter {
        /// The parameter (or body field) at fault.
        parameter: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The request body is not the JSON the operation takes.
    #[error("body: {0}")]
    InvalidBody(String),
    /// No route or no item under this path.
    #[error("not found: {0}")]
    NotFound(String),
    /// The method is not served under this path.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Missing or wrong API key.
    #[error("unauthorized")]
    Unauthorized,
    /// The request conflicts with work in progress (a rollup of the month is running).
    #[error("conflict: {0}")]
    Conflict(String),
    /// `If-Match` names a version that is no longer current.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The API is not configured to serve (no key outside the host).
    #[error("the API is not configured: {0}")]
    NotConfigured(&'static str),
    /// A store failed.
    #[error("a store failed")]
    Storage(#[from] StorageError),
    /// Anything else that is not the caller's fault.
    #[error("{context}")]
    Internal {
        /// What was being done.
        context: &'static str,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ApiError {
    /// A wrong parameter.
    pub fn invalid(parameter: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::InvalidParameter { parameter: parameter.into(), detail: detail.into() }
    }

    /// A failure that is not the caller's fault.
    pub fn internal(context: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal { context, source: Box::new(source) }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidParameter { .. } | Self::InvalidBody(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::NotConfigured(_) | Self::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Storage(e) => Self::Storage(e),
            DirectoryError::Stale { .. } => Self::PreconditionFailed,
            e @ DirectoryError::Seed { .. } => Self::internal("reading the directory", e),
        }
    }
}

impl From<UsageError> for ApiError {
    fn from(e: UsageError) -> Self {
        match e {
            UsageError::Ledger(e) => Self::Storage(e),
            UsageError::Directory(e) => e.into(),
        }
    }
}

impl From<RollupError> for ApiError {
    fn from(e: RollupError) -> Self {
        match e {
            RollupError::Storage(s) => Self::Storage(s),
            RollupError::NotStarted { period, .. } => {
                Self::NotFound(format!("no rollup of {period} has been started; POST /api/rollups/{period}"))
            }
            RollupError::NotCompleted { period, run, status } => Self::NotFound(format!(
                "{period} has no completed rollup (run {run} is {status:?}); see /api/rollups/{period}"
            )),
            RollupError::AlreadyRunning { id, run, .. } => {
                Self::Conflict(format!("run {run} of {id} is in progress; ask its status or wait for it"))
            }
            RollupError::Invalid(detail) => Self::InvalidBody(detail),
            // Only a posted invoice export is read in a request (`/api/reconciliations/{period}`).
            RollupError::Invoice(e) => Self::InvalidBody(e.to_string()),
            RollupError::TrueUp(e) => Self::invalid("true_up", e.to_string()),
            e @ (RollupError::Pricing(_) | RollupError::Busy) => Self::internal("the rollup", e),
        }
    }
}

/// The problem details body.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// This occurrence, for people.
    pub detail: String,
    /// The parameter at fault, for bad requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

/// The `type` URI of a problem kind.
pub fn kind(slug: &str) -> String {
    format!("urn:chargeback:problem:{slug}")
}

impl ApiError {
    /// The status and problem body this error answers with (logging a 5xx's cause).
    pub fn into_problem(self) -> (StatusCode, Problem) {
        let (status, slug, title, detail, parameter) = match self {
            Self::InvalidParameter { parameter, detail } => {
                (StatusCode::BAD_REQUEST, "invalid-parameter", "Invalid parameter", detail, Some(parameter))
            }
            Self::InvalidBody(detail) => {
                (StatusCode::BAD_REQUEST, "invalid-body", "Invalid request body", detail, Some("body".to_owned()))
            }
            Self::NotFound(detail) => (StatusCode::NOT_FOUND, "not-found", "Not found", detail, None),
            Self::Conflict(detail) => (StatusCode::CONFLICT, "conflict", "Conflict", detail, None),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this path does not serve this method".to_owned(),
                None,
            ),
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "send the API key as the x-functions-key header or the code query parameter".to_owned(),
                None,
            ),
            Self::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
                "the document changed since the ETag given in If-Match: read it again and reapply the change"
                    .to_owned(),
                Some("If-Match".to_owned()),
            ),
            Self::NotConfigured(what) => {
                (StatusCode::SERVICE_UNAVAILABLE, "not-configured", "Not configured", what.to_owned(), None)
            }
            Self::Storage(e) => {
                let error = &e as &dyn std::error::Error;
                error!(error, "api request failed in a store");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "storage is unavailable; retry later".to_owned(),
                    None,
                )
            }
            e @ Self::Internal { .. } => {
                let error = &e as &dyn std::error::Error;
                error!(error, "api request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the request failed; it has been logged".to_owned(),
                    None,
                )
            }
        };
        (status, Problem { kind: kind(slug), title, status: status.as_u16(), detail, parameter })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, problem) = self.into_problem();
        problem_response(status, problem)
    }
}

/// A problem as a response with the problem media type.
pub fn problem_response(status: StatusCode, problem: Problem) -> Response {
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}
