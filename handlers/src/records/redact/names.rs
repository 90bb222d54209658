//! Which names mark a credential: field names, header names and the names of
//! `{"name": …, "value": …}` pairs, compared without case and without the
//! `-`, `_`, space and `.` that spell them differently.

/// Credential names, normalised (lower case, no separators). `code` and
/// `sig` are credentials only as URL parameters ([`super::text`]): as field
/// names they are ordinary (`"code": "content_filter"`).
const SECRET_NAMES: &[&str] = &[
    "appkey",
    "appsubscriptionkey",
    "subscriptionkey",
    "ocpapimsubscriptionkey",
    "apikey",
    "xapikey",
    "authorization",
    "proxyauthorization",
    "xfunctionskey",
    "functionkey",
    "accountkey",
    "sharedaccesskey",
    "sharedaccesssignature",
    "accesstoken",
    "clientsecret",
    "password",
    "secret",
];

/// Field names that hold the name of a header-like pair.
const PAIR_NAME_FIELDS: &[&str] = &["name", "key", "header", "headername", "field"];

/// Field names that hold the value of a header-like pair.
const PAIR_VALUE_FIELDS: &[&str] = &["value", "values", "headervalue"];

/// A name without case and separators.
pub(super) fn normalise(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, '-' | '_' | ' ' | '.')).flat_map(char::to_lowercase).collect()
}

/// Whether a (raw) name is a credential's.
pub(super) fn is_secret(name: &str) -> bool {
    name.len() <= 64 && SECRET_NAMES.contains(&normalise(name).as_str())
}

/// Whether a field names the header of a pair.
pub(super) fn is_pair_name(name: &str) -> bool {
    name.len() <= 16 && PAIR_NAME_FIELDS.contains(&normalise(name).as_str())
}

/// Whether a field holds the value of a pair.
pub(super) fn is_pair_value(name: &str) -> bool {
    name.len() <= 16 && PAIR_VALUE_FIELDS.contains(&normalise(name).as_str())
}

/// The credential names as a regex alternative matching every spelling
/// (`ocp[-_ .]?apim[-_ .]?subscription[-_ .]?key`, …), for the text patterns.
pub(super) fn pattern_alternatives() -> String {
    const SPELLED: &[&str] = &[
        "app-key",
        "app-subscription-key",
        "subscription-key",
        "ocp-apim-subscription-key",
        "api-key",
        "x-api-key",
        "authorization",
        "proxy-authorization",
        "x-functions-key",
        "function-key",
        "account-key",
        "shared-access-key",
        "shared-access-signature",
        "access-token",
        "client-secret",
        "password",
    ];
    let mut spelled: Vec<String> =
        SPELLED.iter().map(|name| name.split('-').collect::<Vec<_>>().join("[-_ .]?")).collect();
    // Longest first, so `ocp-apim-subscription-key` wins over `subscription-key`.
    spelled.sort_by_key(|s| std::cmp::Reverse(s.len()));
    spelled.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_in_any_case_and_spelling() {
        for name in
            ["AppKey", "app_key", "Ocp-Apim-Subscription-Key", "OCP_APIM_SUBSCRIPTION_KEY", "api-key", "x-api-key"]
        {
            assert!(is_secret(name), "{name}");
        }
        for name in ["code", "sig", "model", "partitionKey", "key", "name"] {
            assert!(!is_secret(name), "{name}");
        }
    }
}
