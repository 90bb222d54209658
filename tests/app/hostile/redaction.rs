//! Raw credentials used to survive in dead letters (7 of 12 probes leaked),
//! and a parser error could echo an input value into a letter's `detail`.
//! Each probe is a poison record holding a credential in one of the forms
//! the issue lists; none of them may reach the disk.

use crate::helpers::*;

/// A distinctive credential per probe.
fn secret(n: usize) -> String {
    format!("zq{n}x{:024x}", rand::random::<u128>() >> 32)
}

fn hex_secret() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// (probe, body, credential) — every body is rejected for some other reason.
fn probes() -> Vec<(&'static str, String, String)> {
    let s: Vec<String> = (0..16).map(secret).collect();
    let hex = hex_secret();
    vec![
        ("field", format!(r#"{{"AppKey":"{}","PromptTokens":"-1"}}"#, s[0]), s[0].clone()),
        (
            "header name/value pairs",
            format!(
                r#"{{"eventTime":"soon","request":{{"headers":[{{"name":"Ocp-Apim-Subscription-Key","value":"{}"}}]}}}}"#,
                s[1]
            ),
            s[1].clone(),
        ),
        (
            "header text in a string",
            format!(
                r#"{{"eventTime":"soon","request":"POST /openai HTTP/1.1\r\nOcp-Apim-Subscription-Key: {}\r\nHost: x"}}"#,
                s[2]
            ),
            s[2].clone(),
        ),
        (
            "?code= in a URL",
            format!(
                r#"{{"schema":"usage.v1","id":"p3","url":"https://app.azurewebsites.net/api/usage?code={}"}}"#,
                s[3]
            ),
            s[3].clone(),
        ),
        ("unicode-escaped name", format!(r#"{{"App\u004bey":"{}","PromptTokens":"-1"}}"#, s[4]), s[4].clone()),
        ("value with \\\\", format!(r#"{{"AppKey":"ab\\{}","PromptTokens":"-1"}}"#, s[5]), s[5].clone()),
        ("single-quoted pseudo-JSON", format!("{{'AppKey': '{}', 'PromptTokens': '1'}}", s[6]), s[6].clone()),
        (
            "a count echoed into detail",
            format!(
                r#"{{"schema":"usage.v1","id":"p7","timestamp":"2026-11-26T11:00:00Z","usage":{{"prompt_tokens":"Bearer {}"}}}}"#,
                s[7]
            ),
            s[7].clone(),
        ),
        (
            "a parser error echoed into detail",
            format!(
                r#"{{"eventTime":"2026-11-26T11:00:00Z","response":{{"usage":{{"prompt_tokens":1,"prompt_tokens_details":"api-key={}"}}}}}}"#,
                s[8]
            ),
            s[8].clone(),
        ),
        (
            "Authorization: Bearer",
            format!(r#"{{"eventTime":"soon","request":{{"headers":{{"Authorization":"Bearer {}"}}}}}}"#, s[9]),
            s[9].clone(),
        ),
        (
            "SAS sig=",
            format!(
                r#"{{"eventTime":"soon","url":"https://a.blob.core.windows.net/c/b?sv=2022-11-02&sig={}&se=2026"}}"#,
                s[10]
            ),
            s[10].clone(),
        ),
        (
            "connection-string AccountKey=",
            format!(
                r#"{{"eventTime":"soon","conn":"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={}==;EndpointSuffix=core.windows.net"}}"#,
                s[11]
            ),
            s[11].clone(),
        ),
        (
            "32 hex next to a credential name",
            format!(r#"{{"eventTime":"soon","note":"{{\\\"Ocp-Apim-Subscription-Key\\\":\\\"{hex}\\\"}}"}}"#),
            hex.clone(),
        ),
        (
            "api-key in JSON held in a string",
            format!(r#"{{"eventTime":"soon","request":"{{\"api-key\":\"{}\"}}"}}"#, s[12]),
            s[12].clone(),
        ),
        ("truncated", format!(r#"{{"appSubscriptionKey": "{}"#, s[13]), s[13].clone()),
        (
            "plain header text",
            format!("Ocp-Apim-Subscription-Key: {}\nAuthorization: Bearer {}", s[14], s[14]),
            s[14].clone(),
        ),
    ]
}

#[tokio::test]
async fn no_credential_in_any_form_survives_into_a_dead_letter() {
    let app = spawn_app().await;
    let probes = probes();
    let bodies: Vec<String> = probes.iter().map(|(_, body, _)| body.clone()).collect();
    let outcome = app.ingest(&bodies, "0", 1).await;
    assert_eq!(outcome["dead_lettered"], probes.len(), "every probe is a poison record: {outcome}");
    let stored = String::from_utf8_lossy(&all_bytes_under(&app.data_dir.path().join("dead-letter"))).into_owned();
    let leaked: Vec<&str> =
        probes.iter().filter(|(_, _, secret)| stored.contains(secret.as_str())).map(|p| p.0).collect();
    assert!(leaked.is_empty(), "credentials survived in: {leaked:?}");
}

#[tokio::test]
async fn a_letters_detail_never_repeats_a_value_of_its_input() {
    let app = spawn_app().await;
    let marker = "zebra-marker-31337";
    let bodies = vec![
        format!(r#"{{"Timestamp":"{marker}","AppKey":"k","PromptTokens":"1"}}"#),
        format!(r#"{{"schema":"{marker}","id":"a"}}"#),
        format!(r#"{{"schema":"usage.v1","id":"b","timestamp":"2026-11-26T11:00:00Z","streamed":"{marker}"}}"#),
        format!(
            r#"{{"schema":"usage.v1","id":"c","timestamp":"2026-11-26T11:00:00Z","usage":{{"prompt_tokens":"{marker}"}}}}"#
        ),
        format!(r#"{{"schema":"usage.v1","id":"d","timestamp":"2026-11-26T11:00:00Z","tenant":"{marker}!"}}"#),
        format!(
            r#"{{"eventTime":"2026-11-26T11:00:00Z","response":{{"usage":{{"prompt_tokens":1,"completion_tokens_details":"{marker}"}}}}}}"#
        ),
        format!(r#"{{"eventTime":"2026-11-26T11:00:00Z","request":"{{\"model\": \"{marker}\", bad"}}"#),
    ];
    let outcome = app.ingest(&bodies, "0", 1).await;
    assert_eq!(outcome["dead_lettered"], bodies.len(), "{outcome}");
    for letter in super::dead_letters(app.data_dir.path()) {
        let detail = letter["detail"].as_str().unwrap();
        assert!(!detail.contains("zebra") && !detail.contains("31337"), "{}: {detail}", letter["reason"]);
        assert!(!detail.is_empty());
    }
}
