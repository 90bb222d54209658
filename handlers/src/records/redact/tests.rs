//! Every credential form a hostile run found surviving, and the forms the
//! issue lists, each as its own probe.

use super::*;

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn fingerprinter() -> Fingerprinter {
    Fingerprinter::new(b"s")
}

/// Redacts and checks that neither the key nor any 12-character piece of it survives.
fn redact(body: &str) -> String {
    redact_with(body, KEY)
}

fn redact_with(body: &str, secret: &str) -> String {
    let out = redact_secrets(body, &fingerprinter());
    assert!(!out.contains(secret), "secret left in {out}");
    let chars: Vec<char> = secret.chars().collect();
    for piece in chars.windows(12) {
        let piece: String = piece.iter().collect();
        assert!(!out.contains(&piece), "part {piece:?} of the secret left in {out}");
    }
    out
}

#[test]
fn keys_in_valid_json_become_their_fingerprints() {
    let out = redact(&format!(r#"{{"AppKey":"{KEY}","PromptTokens":"-1"}}"#));
    let fp = fingerprinter().fingerprint(KEY).to_string();
    assert_eq!(out, format!(r#"{{"AppKey":"{fp}","PromptTokens":"-1"}}"#));
}

#[test]
fn keys_in_truncated_bodies_are_removed_even_when_cut_off() {
    redact(&format!(r#"{{"appSubscriptionKey": "{KEY}"#));
    redact_with(&format!(r#"{{"appSubscriptionKey": "{}"#, &KEY[..20]), &KEY[..20]);
    redact(&format!(r#"{{"a":[{{"b":{{"AppKey":"{KEY}"#));
}

#[test]
fn keys_in_headers_escaped_json_and_urls_are_removed() {
    redact(&format!(r#"{{"headers":{{"Ocp-Apim-Subscription-Key":["{KEY}"]}}}}"#));
    redact(&format!(r#"{{"request":"{{\"api-key\":\"{KEY}\"}}"}}"#));
    redact(&format!(r#"{{"url":"https://x/openai?subscription-key={KEY}&a=1"}}"#));
}

#[test]
fn header_name_value_pairs_are_redacted_in_either_order() {
    redact(&format!(r#"{{"headers":[{{"name":"Ocp-Apim-Subscription-Key","value":"{KEY}"}}]}}"#));
    redact(&format!(r#"{{"headers":[{{"value":"{KEY}","name":"ocp-apim-subscription-key"}}]}}"#));
    redact(&format!(r#"{{"headers":[{{"Name":"api-key","Values":["{KEY}"]}}]}}"#));
    redact(&format!(r#"{{"headers":[["Authorization","Bearer {KEY}"]]}}"#));
    // Truncated inside the pair.
    redact(&format!(r#"{{"headers":[{{"name":"Ocp-Apim-Subscription-Key","value":"{KEY}"#));
}

#[test]
fn raw_header_text_inside_a_string_is_redacted() {
    redact(&format!(r#"{{"raw":"POST /openai HTTP/1.1\r\nOcp-Apim-Subscription-Key: {KEY}\r\nHost: x"}}"#));
    redact(&format!("Ocp-Apim-Subscription-Key: {KEY}\nAuthorization: Bearer {KEY}"));
    redact(&format!(r#"{{"log":"api-key={KEY}; x-api-key:{KEY}"}}"#));
}

#[test]
fn function_keys_and_sas_signatures_in_urls_are_redacted() {
    redact(&format!(r#"{{"url":"https://app.azurewebsites.net/api/usage?code={KEY}"}}"#));
    redact(&format!(r#"{{"url":"https://app/api/usage?from=1&code={KEY}&to=2"}}"#));
    redact(&format!(r#"{{"url":"https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig={KEY}%3D&se=2026"}}"#));
    redact(&format!("GET /api/usage?code={KEY} HTTP/1.1"));
}

#[test]
fn a_unicode_escaped_field_name_is_read_as_what_it_means() {
    redact(&format!(r#"{{"App\u004bey":"{KEY}","PromptTokens":"1"}}"#));
    redact(&format!(r#"{{"\u0041\u0070\u0070\u004B\u0065\u0079":"{KEY}"#));
}

#[test]
fn a_value_holding_backslashes_is_redacted_whole() {
    let secret = r"0123456789ab\\cdef0123456789abcdef";
    let out = redact_with(&format!(r#"{{"AppKey":"{secret}"}}"#), "cdef0123456789abcdef");
    assert!(!out.contains("0123456789ab"), "{out}");
    redact_with(&format!(r#"{{"AppKey":"\\{KEY}"}}"#), KEY);
}

#[test]
fn single_quoted_pseudo_json_is_redacted() {
    redact(&format!("{{'AppKey': '{KEY}', 'PromptTokens': '1'}}"));
    redact(&format!("{{AppKey: {KEY}, PromptTokens: 1}}"));
    redact(&format!("{{'headers': {{'api-key': '{KEY}'}}"));
}

#[test]
fn authorization_bearer_connection_strings_and_account_keys_are_redacted() {
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA";
    redact_with(&format!(r#"{{"Authorization":"Bearer {token}"}}"#), token);
    redact_with(&format!(r#"{{"note":"sent with Bearer {token} by the client"}}"#), token);
    let account_key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    redact_with(
        &format!(
            r#"{{"conn":"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={account_key};EndpointSuffix=core.windows.net"}}"#
        ),
        account_key,
    );
    redact_with(&format!("Endpoint=sb://ns/;SharedAccessKeyName=send;SharedAccessKey={account_key}"), account_key);
}

#[test]
fn key_shaped_hex_next_to_a_credential_name_is_redacted_however_escaped() {
    redact(&format!(r#"{{"s":"{{\\\"Ocp-Apim-Subscription-Key\\\":\\\"{KEY}\\\"}}"}}"#));
    redact(&format!("subscription key => {KEY}"));
}

#[test]
fn json_held_in_strings_several_times_is_redacted_at_every_level() {
    let inner = serde_json::json!({"AppKey": KEY}).to_string();
    let twice = serde_json::json!({"request": serde_json::json!({"body": inner}).to_string()}).to_string();
    redact(&twice);
}

#[test]
fn other_fields_are_left_alone() {
    let body = r#"{"model":"gpt-4o","partitionKey":"abc","error":{"code":"content_filter"},"status":429}"#;
    assert_eq!(redact(body), body);
    let text = "not json at all, 100% harmless";
    assert_eq!(redact(text), text);
}

#[test]
fn fingerprints_already_in_a_body_are_kept() {
    let fp = fingerprinter().fingerprint(KEY).to_string();
    let body = format!(r#"{{"AppKey":"{fp}"}}"#);
    assert_eq!(redact(&body), body);
}

#[test]
fn a_deeply_nested_body_is_redacted_without_recursion() {
    let depth = 100_000;
    let body = format!("{}\"AppKey\":\"{KEY}\"{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    redact(&body);
}
