//! One completion's token usage, normalised from whichever wire shape it came in.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{Fingerprint, ResponseTier, Tenant, TokenSource, TokenUsage};

/// A record's identity in the ledger: its own id where the record has one
/// (APIM `context.RequestId`), else where it was read from (Event Hub
/// partition and sequence number, or a content hash for files). Ingesting the
/// same identity twice counts once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(String);

/// Why a string cannot be a record id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("record id must be 1-200 printable characters")]
pub struct RecordIdError;

impl RecordId {
    /// Accepts 1–200 printable characters (it becomes a table row key, a
    /// primary key and part of a blob name).
    pub fn parse(raw: &str) -> Result<Self, RecordIdError> {
        let raw = raw.trim();
        let printable = raw.chars().all(|c| !c.is_control());
        if raw.is_empty() || raw.len() > 200 || !printable {
            return Err(RecordIdError);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who made the call, as far as the record says. At least the fingerprint or
/// the subscription id is usually present; the application and user come from
/// token claims when APIM validates Entra ID tokens.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// APIM subscription id (a name, not a credential).
    pub subscription_id: Option<String>,
    /// Fingerprint of the raw subscription key, for records that carried one.
    pub key_fingerprint: Option<Fingerprint>,
    /// Application (e.g. the `appid`/`azp` claim).
    pub application: Option<String>,
    /// User (e.g. the `oid` claim).
    pub user: Option<String>,
}

impl Caller {
    /// The identity chargeback attributes usage to: the application if
    /// known, else the subscription, else the key fingerprint, else
    /// `unattributed`. The application mapping file maps it to a business unit.
    pub fn chargeable_party(&self) -> &str {
        self.application
            .as_deref()
            .or(self.subscription_id.as_deref())
            .or(self.key_fingerprint.as_ref().map(Fingerprint::as_str))
            .unwrap_or("unattributed")
    }
}

/// Which wire shape a record arrived in (kept for audit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordShape {
    /// Our documented `usage.v1` record.
    V1,
    /// The widely copied APIM sample policy (PascalCase, numbers as strings).
    ApimSample,
    /// APIM forwarding full request and response bodies.
    ApimFullBody,
    /// API Management's own resource logs (diagnostic setting): a
    /// `GatewayLlmLogs` record joined with its `GatewayLogs` partner.
    ApimDiagnostic,
}

impl RecordShape {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::ApimSample => "apim-sample",
            Self::ApimFullBody => "apim-full-body",
            Self::ApimDiagnostic => "apim-diagnostic",
        }
    }
}

/// How we counted a record's tokens (set only for `estimated` records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedWith {
    /// The tokenizer encoding, e.g. `o200k_base`.
    pub encoding: String,
    /// `false` when the model was not recognised and the default encoding was used.
    pub known_model: bool,
}

impl CountedWith {
    /// The stored form: the encoding, with `;unknown-model` when the default was used.
    pub fn to_stored(&self) -> String {
        if self.known_model { self.encoding.clone() } else { format!("{};unknown-model", self.encoding) }
    }

    /// Parses the stored form.
    pub fn from_stored(raw: &str) -> Self {
        match raw.strip_suffix(";unknown-model") {
            Some(encoding) => Self { encoding: encoding.to_owned(), known_model: false },
            None => Self { encoding: raw.to_owned(), known_model: true },
        }
    }
}

/// A validated usage record, ready for the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    /// Ledger identity (idempotency key), unique within the tenant.
    pub id: RecordId,
    /// The estate the record belongs to.
    pub tenant: Tenant,
    /// When the call happened, UTC.
    pub occurred_at: DateTime<Utc>,
    /// Who called.
    pub caller: Caller,
    /// Azure OpenAI deployment name, where known.
    pub deployment: Option<String>,
    /// Model (as reported by the response, else as requested), where known.
    pub model: Option<String>,
    /// Operation, e.g. `chat.completions`, `embeddings`.
    pub operation: Option<String>,
    /// HTTP status of the call, where known.
    pub status: Option<u16>,
    /// Whether the response was streamed.
    pub streamed: bool,
    /// Token counts.
    pub usage: TokenUsage,
    /// Where the counts came from.
    pub token_source: TokenSource,
    /// Wire shape it arrived in.
    pub shape: RecordShape,
    /// Which backend actually served (for spillover), where known.
    pub backend: Option<String>,
    /// The service tier the response says it was served and billed at
    /// (`default`, `priority`, `flex`, …), where it says.
    pub service_tier: Option<ResponseTier>,
    /// The provisioned deployment this call spilled over from
    /// (`x-ms-spillover-from-deployment`), when it did. `deployment` is then
    /// the standard deployment that served and is billed for the call.
    pub spilled_from: Option<String>,
    /// Latency of the call in milliseconds, where known.
    pub latency_ms: Option<u64>,
    /// How the tokens were counted, for `estimated` records.
    pub counted_with: Option<CountedWith>,
}
