//! No secrets: storage and PostgreSQL reached with the app's Entra ID
//! credential only.
//!
//! - An Azurite in OAuth mode (`--oauth basic`, HTTPS with a certificate
//!   `scripts/services.sh` makes, its account key a random one nobody keeps)
//!   and the stand-in identity endpoint ([`standin`]). The whole storage
//!   contract suite runs on it (`contract::azurite_token`); here: shared
//!   keys are refused, an expired token is refreshed, a wrong audience and
//!   an unknown identity fail with errors that say who and what, and the
//!   handler started with the host's identity settings ingests into it.
//! - PostgreSQL with a role whose password is the stand-in's current token
//!   (as Entra makes a fresh token valid): a pool logs in, the token is
//!   rotated, new connections still log in.

pub mod standin;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chargeback::config::{IdentitySettings, Secret, StorageSettings};
use chargeback::domain::Tenant;
use chargeback::startup::Application;
use chargeback::storage::azure::{IdentityConnection, StorageAccount, TableLedger};
use chargeback::storage::credential::{AzureHttp, CredentialKind, CredentialSettings};
use chargeback::storage::postgres::PgConfig;
use chargeback::storage::{Ledger, LedgerRange};
use chrono::{TimeZone, Utc};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::contract::behaviour::record;
use crate::contract::subjects::unique_name;
use crate::helpers::{eventhub_invocation, host_settings, service_env, v1_record};
use standin::{Profile, StandIn, standin};

/// The token-only Azurite that `scripts/services.sh` started.
pub struct TokenAzurite {
    /// Blob, queue and table endpoints (`https://127.0.0.1:<port>/devstoreaccount1`).
    pub endpoints: [String; 3],
    /// The certificate of the CA that signed Azurite's, PEM.
    pub ca: Vec<u8>,
}

impl TokenAzurite {
    /// From `CHARGEBACK_TEST_AZURE_OAUTH` (`BlobEndpoint=…;QueueEndpoint=…;
    /// TableEndpoint=…`) and `CHARGEBACK_TEST_AZURE_OAUTH_CA` (a file).
    pub fn from_env() -> Option<Self> {
        let text = service_env("CHARGEBACK_TEST_AZURE_OAUTH", "Azurite in OAuth mode")?;
        let ca = service_env("CHARGEBACK_TEST_AZURE_OAUTH_CA", "Azurite in OAuth mode")?;
        let part = |key: &str| {
            text.split(';')
                .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
                .unwrap_or_else(|| panic!("CHARGEBACK_TEST_AZURE_OAUTH has no {key}"))
                .to_owned()
        };
        Some(Self {
            endpoints: [part("BlobEndpoint"), part("QueueEndpoint"), part("TableEndpoint")],
            ca: std::fs::read(&ca).unwrap_or_else(|e| panic!("{ca}: {e}")),
        })
    }

    /// The host's identity settings for this Azurite and a managed identity.
    pub fn connection(&self, client_id: &str) -> IdentityConnection {
        IdentityConnection {
            prefix: "AzureWebJobsStorage".into(),
            account_name: None,
            service_uris: self.endpoints.clone().map(Some),
            credential: CredentialSettings {
                kind: CredentialKind::ManagedIdentity,
                client_id: Some(client_id.to_owned()),
            },
        }
    }

    /// The account as the managed identity `client_id` reaches it.
    pub fn account(&self, client_id: &str) -> StorageAccount {
        StorageAccount::from_identity(
            &self.connection(client_id),
            AzureHttp::new(std::slice::from_ref(&self.ca)).unwrap(),
        )
        .unwrap()
    }
}

/// Azurite in OAuth mode and the stand-in, or `None` when the run has neither.
pub fn token_storage() -> Option<(TokenAzurite, Arc<StandIn>)> {
    Some((TokenAzurite::from_env()?, standin()?))
}

/// A client id of its own, registered with `profile`.
pub fn identity(standin: &StandIn, what: &str, profile: Profile) -> String {
    let client_id = format!("{what}-{}", unique_name());
    standin.register(&client_id, profile);
    client_id
}

/// Requests and tokens (prompt + completion) of the tenant, all time.
async fn totals(ledger: &dyn Ledger, tenant: &Tenant) -> (u64, u64) {
    let range = LedgerRange {
        tenant: tenant.clone(),
        from: Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap(),
    };
    let cells = ledger.usage_cells(&range).await.unwrap();
    (cells.iter().map(|c| c.tokens.requests).sum(), cells.iter().map(|c| c.tokens.prompt + c.tokens.completion).sum())
}

#[tokio::test]
async fn the_token_only_azurite_refuses_its_well_known_shared_key() {
    let Some((azurite, _)) = token_storage() else { return };
    let [blob, queue, table] = &azurite.endpoints;
    let connection = format!(
        "DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;\
         AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;\
         BlobEndpoint={blob};QueueEndpoint={queue};TableEndpoint={table};"
    );
    let account = StorageAccount::from_connection_string(&connection)
        .unwrap()
        .with_http(AzureHttp::new(std::slice::from_ref(&azurite.ca)).unwrap());
    let e = TableLedger::open(&account, &unique_name()).await.unwrap_err();
    let e = chargeback::storage::error_chain(&e);
    assert!(e.contains("Azure Storage refused the account key of devstoreaccount1"), "{e}");
    assert!(e.contains("InvalidAuthenticationInfo") || e.contains("AuthorizationFailure"), "{e}");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_tokens_are_not_fetched_per_request() {
    let Some((azurite, standin)) = token_storage() else { return };
    // Tokens that live 3 s: refreshed after 1.5 s, refused by Azurite after 3 s.
    let client_id = identity(&standin, "short", Profile { lifetime_secs: 3, ..Profile::default() });
    let account = azurite.account(&client_id);
    let prefix = unique_name();
    let ledger = TableLedger::open(&account, &prefix).await.unwrap();
    let tenant = Tenant::default_tenant();
    let mut requests = 0;
    let started = Instant::now();
    for round in 0..2 {
        for i in 0..5 {
            let at = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap() + chrono::Duration::seconds(i);
            let record = record(&tenant, &format!("req-{round}-{i}"), "app-a", at, 3);
            ledger.append(&[record]).await.unwrap();
            totals(&ledger, &tenant).await;
            requests += 2;
        }
        if round == 0 {
            // Past the first token's expiry: with it, every request would now be refused.
            tokio::time::sleep(Duration::from_millis(3500)).await;
        }
    }
    assert_eq!(totals(&ledger, &tenant).await.0, 10);
    // One token per 1.5 s of the run at most (plus the first and one spare),
    // however slow the machine: far fewer than the requests.
    let issued = standin.issued(&client_id).len();
    let most = 2 + (started.elapsed().as_millis() / 1500) as usize;
    assert!(issued >= 2 && issued <= most, "{issued} tokens for {requests}+ requests (at most {most})");
    assert!(issued < requests / 2, "{issued} tokens for {requests}+ requests");
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused_with_an_error_naming_the_identity() {
    let Some((azurite, standin)) = token_storage() else { return };
    let profile = Profile { audience: Some("https://management.azure.com/".into()), ..Profile::default() };
    let client_id = identity(&standin, "wrong-audience", profile);
    let e = TableLedger::open(&azurite.account(&client_id), &unique_name()).await.unwrap_err();
    let e = chargeback::storage::error_chain(&e);
    assert!(e.contains(&format!("Azure Storage refused managed identity (client id {client_id})")), "{e}");
    assert!(e.contains("403") && e.contains("Invalid token audience"), "{e}");
}

#[tokio::test]
async fn an_identity_the_endpoint_does_not_know_fails_naming_identity_and_scope() {
    let Some((azurite, _)) = token_storage() else { return };
    let client_id = format!("unassigned-{}", unique_name());
    let e = TableLedger::open(&azurite.account(&client_id), &unique_name()).await.unwrap_err();
    let e = chargeback::storage::error_chain(&e);
    assert!(
        e.contains(&format!(
            "getting a token for https://storage.azure.com/.default as managed identity (client id {client_id})"
        )),
        "{e}"
    );
}

#[tokio::test]
async fn the_handler_with_the_hosts_identity_settings_ingests_into_token_only_storage() {
    let Some((azurite, standin)) = token_storage() else { return };
    let client_id = identity(&standin, "handler", Profile::default());
    let data_dir = tempfile::tempdir().unwrap();
    // As the host runs it: its port, and the secret a shared ledger needs.
    let mut settings = host_settings(data_dir.path());
    settings.fingerprint_secret = Some(Secret::new("identity-test-secret"));
    let prefix = unique_name();
    let [blob, queue, table] = azurite.endpoints.clone();
    let parts = [
        ("blobServiceUri", blob),
        ("queueServiceUri", queue),
        ("tableServiceUri", table),
        ("credential", "managedidentity".to_owned()),
        ("clientId", client_id.clone()),
    ];
    settings.storage = StorageSettings {
        azure_identity: Some(IdentitySettings {
            prefix: "AzureWebJobsStorage".into(),
            parts: parts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            on_azure: false,
        }),
        azure_extra_roots: vec![azurite.ca.clone()],
        name_prefix: prefix.clone(),
        ..StorageSettings::default()
    };
    let app = Application::build(&settings, 0).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let bodies: Vec<String> = (0..20).map(|i| v1_record(&format!("{prefix}-{i}"), 100, 20)).collect();
    let response = reqwest::Client::new()
        .post(format!("{address}/ingest-usage"))
        .json(&eventhub_invocation("ingest-usage", &bodies, "0", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let ledger = TableLedger::open(&azurite.account(&client_id), &prefix).await.unwrap();
    assert_eq!(totals(&ledger, &Tenant::default_tenant()).await, (20, 20 * 120));
    // The stores are Azure's: no embedded ledger or dead letters.
    for local in ["ledger.sqlite", "dead-letter", "reports"] {
        assert!(!data_dir.path().join(local).exists(), "{local} in the data directory");
    }
}

/// `postgres://role:password@host:port/db` from the admin URL's host and port.
fn url_as(admin: &str, role: &str, password: Option<&str>, database: &str) -> String {
    let rest = admin.split_once('@').map_or(admin, |(_, rest)| rest);
    let host_port = rest.split(['/', '?']).next().unwrap();
    match password {
        Some(p) => format!("postgres://{role}:{p}@{host_port}/{database}"),
        None => format!("postgres://{role}@{host_port}/{database}"),
    }
}

#[tokio::test]
async fn a_pool_logs_in_with_an_entra_token_and_new_connections_follow_its_rotation() {
    let Some(admin) = service_env("CHARGEBACK_TEST_DATABASE_URL", "PostgreSQL") else { return };
    let Some(standin) = standin() else { return };
    // [a-z0-9_] only, so it can stand in SQL text unquoted; tokens are JWTs
    // ([A-Za-z0-9-_.]), quoted below all the same.
    let role = format!("tok_{}", unique_name());
    let mut conn = PgConnection::connect(&admin).await.unwrap();
    // scripts/services.sh makes members of chargeback_token_login log in with a password (SCRAM).
    sqlx::query(AssertSqlSafe(format!("CREATE ROLE {role} LOGIN IN ROLE chargeback_token_login")))
        .execute(&mut conn)
        .await
        .expect("role chargeback_token_login (created by scripts/services.sh)");
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {role} OWNER {role}"))).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();

    // As Entra does for a real server: a token is valid for login once issued.
    let hook_admin = admin.clone();
    let hook_role = role.clone();
    let on_issue: standin::OnIssue = Arc::new(move |token: String| {
        let (admin, role) = (hook_admin.clone(), hook_role.clone());
        Box::pin(async move {
            let mut conn = PgConnection::connect(&admin).await.unwrap();
            sqlx::query(AssertSqlSafe(format!("ALTER ROLE {role} PASSWORD '{}'", token.replace('\'', "''"))))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        })
    });
    let client_id =
        identity(&standin, "pg", Profile { lifetime_secs: 4, on_issue: Some(on_issue), ..Profile::default() });

    // The password matters: this cluster would otherwise trust anyone.
    assert!(PgConnection::connect(&url_as(&admin, &role, Some("not-a-token"), &role)).await.is_err());

    let mut config = PgConfig::new(url_as(&admin, &role, None, &role));
    config.max_connections = 4;
    config.entra = Some(
        CredentialSettings { kind: CredentialKind::ManagedIdentity, client_id: Some(client_id.clone()) }
            .build(&AzureHttp::default())
            .unwrap(),
    );
    let connected = Instant::now();
    let pool = config.connect().await.unwrap();
    let user: String = sqlx::query_scalar("SELECT current_user::text").fetch_one(&pool).await.unwrap();
    assert_eq!(user, role);
    let first = standin.issued(&client_id);
    assert_eq!(first.len(), 1);

    // Rotation: after half the token's life the pool gets the next one; the
    // first no longer logs in.
    let deadline = Instant::now() + Duration::from_secs(20);
    while standin.issued(&client_id).len() < 2 {
        assert!(Instant::now() < deadline, "no second token was fetched");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(PgConnection::connect(&url_as(&admin, &role, Some(&first[0]), &role)).await.is_err());
    // The pool's options follow the new token (set right after it arrives).
    let deadline = Instant::now() + Duration::from_secs(5);
    while PgConnection::connect_with(&pool.connect_options()).await.is_err() {
        assert!(Instant::now() < deadline, "the pool kept the rotated-out token");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // New pool connections log in: hold four at once (the pool had opened fewer).
    let before = pool.size();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(pool.acquire().await.unwrap());
    }
    assert!(pool.size() > before, "no new connection was opened");
    for mut c in held {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger").fetch_one(&mut *c).await.unwrap();
        assert_eq!(n, 0);
    }
    // One token per refresh (every 2 s), not one per connection.
    let most = 2 + (connected.elapsed().as_millis() / 2000) as usize;
    assert!(standin.issued(&client_id).len() <= most, "tokens are fetched per refresh, not per connection");
    pool.close().await;
}
