//! The redactor: a generated credential in any credential position, however
//! escaped, quoted, nested or cut off, never survives; nothing panics.

use chargeback::domain::Fingerprinter;
use chargeback::records::redact_secrets;
use proptest::prelude::*;

use super::{config, mutated_corpus};

/// Where a credential sits, `{S}` marking it.
const POSITIONS: &[&str] = &[
    r#"{"AppKey":"{S}","PromptTokens":"1"}"#,
    r#"{"appSubscriptionKey": "{S}"}"#,
    r#"{"App\u004bey":"{S}"}"#,
    r#"{"\u0061\u0070\u0069-key":"{S}"}"#,
    r#"{"headers":{"Ocp-Apim-Subscription-Key":["{S}"]}}"#,
    r#"{"headers":[{"name":"Ocp-Apim-Subscription-Key","value":"{S}"}]}"#,
    r#"{"headers":[{"Value":"{S}","Name":"API-KEY"}]}"#,
    r#"{"headers":[["Authorization","Bearer {S}"]]}"#,
    r#"{"Authorization":"Bearer {S}"}"#,
    r#"{"authorization":"SharedKey acct:{S}"}"#,
    "{'AppKey': '{S}'}",
    "{AppKey: {S}}",
    r#"{"raw":"GET / HTTP/1.1\r\nOcp-Apim-Subscription-Key: {S}\r\n"}"#,
    "Ocp-Apim-Subscription-Key: {S}\r\nHost: x",
    "api-key={S}",
    r#"{"url":"https://x/openai/deployments/d?api-version=1&subscription-key={S}"}"#,
    r#"{"url":"https://app.azurewebsites.net/api/usage?code={S}"}"#,
    r#"{"url":"https://app/api/usage?from=1&code={S}&to=2"}"#,
    r#"{"blob":"https://a.blob.core.windows.net/c/b?sv=2022-11-02&sr=b&sig={S}&se=2026"}"#,
    r#"{"conn":"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={S};EndpointSuffix=core.windows.net"}"#,
    r#"{"conn":"Endpoint=sb://ns/;SharedAccessKeyName=send;SharedAccessKey={S}"}"#,
    r#"{"x-functions-key":"{S}"}"#,
    r#"{"note":"the client sent Bearer {S} again"}"#,
    r#"{"request":"{\"api-key\":\"{S}\"}"}"#,
];

/// A credential: APIM's 32 hex, a longer base64 key, a JWT-like token.
fn credential() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{32}",
        "[A-Za-z0-9]{20,40}",
        "[A-Za-z0-9+/]{40,60}==",
        "eyJ[A-Za-z0-9_-]{10,30}\\.[A-Za-z0-9_-]{10,30}\\.[A-Za-z0-9_-]{10,30}",
    ]
}

/// JSON-encodes a text as a string value, `times` times over.
fn held_in_strings(text: &str, times: u8) -> String {
    let mut body = text.to_owned();
    for _ in 0..times {
        body = serde_json::json!({ "request": body }).to_string();
    }
    body
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn a_credential_in_any_position_never_survives(
        position in 0..POSITIONS.len(), secret in credential(), held in 0u8..3,
        noise in "[a-z ,:0-9]{0,12}", cut in any::<bool>(), cut_after in 0usize..40,
    ) {
        let mut body = held_in_strings(&POSITIONS[position].replace("{S}", &secret), held);
        body.insert_str(0, &format!("{noise} "));
        // Cut after the credential (APIM cuts messages above 200 KB) - unless
        // its name comes after it, which truncation would take away too.
        let name_after = POSITIONS[position].contains(r#""{S}","Name""#);
        if cut && !name_after {
            let end = body.find(secret.as_str()).unwrap() + secret.len();
            let at = (end + cut_after).min(body.len());
            let at = (at..=body.len()).find(|i| body.is_char_boundary(*i)).unwrap_or(body.len());
            body.truncate(at);
        }
        let out = redact_secrets(&body, &Fingerprinter::new(b"fuzz"));
        prop_assert!(!out.contains(secret.as_str()), "{} -> {}", body, out);
    }

    #[test]
    fn a_credential_cut_off_by_truncation_leaves_no_part_of_itself(
        position in 0..4usize, secret in "[0-9a-f]{32}", keep in 8usize..32,
    ) {
        let body = POSITIONS[position].replace("{S}", &secret);
        let body = &body[..body.find(secret.as_str()).unwrap() + keep];
        let out = redact_secrets(body, &Fingerprinter::new(b"fuzz"));
        prop_assert!(!out.contains(&secret[..keep]), "{} -> {}", body, out);
    }

    #[test]
    fn redaction_never_panics(body in mutated_corpus(), text in ".{0,200}") {
        let _ = redact_secrets(&String::from_utf8_lossy(&body), &Fingerprinter::new(b"fuzz"));
        let _ = redact_secrets(&text, &Fingerprinter::new(b"fuzz"));
    }
}
