//! The defects an adversarial run against the release binary found: each
//! test here failed before its fix. Records were posted as the host posts
//! them, the CLI was run as a user runs it.

mod access;
mod identity;
mod letters;
mod limits;
mod redaction;
mod sums;
mod timestamps;
mod tokens;

use std::path::Path;
use std::process::Command;

use chargeback::config::{LedgerBackend, Secret, Settings, StorageSettings};
use chargeback::domain::Tenant;
use serde_json::Value;

use crate::api::keyed_settings;

/// Settings (with the API key) for a ledger on the suite's PostgreSQL at
/// `url`, in a tenant of its own, since the suite's tests share the database,
/// with the fingerprint secret a shared ledger needs; and that tenant.
pub fn on_postgresql(dir: &Path, url: &str, secret: &str) -> (Settings, String) {
    let mut s = keyed_settings(dir);
    let tenant = format!("t{:016x}", rand::random::<u64>());
    s.tenant = Tenant::parse(&tenant).unwrap();
    s.fingerprint_secret = Some(Secret::new(secret));
    s.storage = StorageSettings {
        ledger: Some(LedgerBackend::Postgres),
        database_url: Some(Secret::new(url.to_owned())),
        ..StorageSettings::default()
    };
    (s, tenant)
}

/// The `chargeback` command on a data directory, with no inherited settings.
pub fn chargeback(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chargeback"));
    cmd.arg("--data-dir").arg(data_dir).env_remove("CHARGEBACK_FINGERPRINT_SECRET").env_remove("RUST_LOG");
    cmd
}

/// Runs a command that must succeed; its standard output.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Every dead letter the embedded store holds, as stored.
pub fn dead_letters(data_dir: &Path) -> Vec<Value> {
    let root = data_dir.join("dead-letter");
    let mut letters = Vec::new();
    let Ok(tenants) = std::fs::read_dir(&root) else { return letters };
    for tenant in tenants {
        for file in std::fs::read_dir(tenant.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                letters.push(serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap());
            }
        }
    }
    letters
}
