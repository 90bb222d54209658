//! Which encoding a model (or an Azure deployment) uses.
//!
//! `o200k_base` for gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and later, the o-series
//! (o1, o3, o4-mini, ...) and gpt-oss; `cl100k_base` for gpt-4, gpt-4-turbo,
//! gpt-35-turbo / gpt-3.5-turbo, the text-embedding models and the
//! davinci-002 / babbage-002 base models. Anything else is counted with
//! [`DEFAULT_ENCODING`] and reported as an unknown model.
//!
//! Azure deployments are named by their owner and may hide the model
//! ("chat-prod"); [`DeploymentModels`] maps them to model names.

use std::collections::HashMap;
use std::str::FromStr;

use crate::Encoding;

/// The encoding used for a model we do not recognise: the one of the newest
/// model families, since unknown names are most likely new models.
pub const DEFAULT_ENCODING: Encoding = Encoding::O200kBase;

/// The encoding of a model, and whether the model was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelEncoding {
    /// The encoding to count with.
    pub encoding: Encoding,
    /// `false` when the model was not recognised and [`DEFAULT_ENCODING`] was
    /// used; the record should say so.
    pub known_model: bool,
}

/// Model name prefixes and their encodings; the first match wins, so longer
/// prefixes come before the shorter ones they extend (gpt-4o before gpt-4).
const PREFIXES: &[(&str, Encoding)] = &[
    ("gpt-4o", Encoding::O200kBase),
    ("chatgpt-4o", Encoding::O200kBase),
    ("gpt-4.1", Encoding::O200kBase),
    ("gpt-4.5", Encoding::O200kBase),
    ("gpt-oss", Encoding::O200kBase),
    ("codex-mini", Encoding::O200kBase),
    ("computer-use", Encoding::O200kBase),
    ("gpt-4", Encoding::Cl100kBase),
    ("gpt-35-turbo", Encoding::Cl100kBase),
    ("gpt-3.5-turbo", Encoding::Cl100kBase),
    ("text-embedding-", Encoding::Cl100kBase),
    ("davinci-002", Encoding::Cl100kBase),
    ("babbage-002", Encoding::Cl100kBase),
];

/// The encoding of `model`, e.g. `gpt-4o-2024-08-06`, `gpt-35-turbo-16k`,
/// `o3-mini`, `openai/gpt-4.1` or a fine-tune `ft:gpt-4o-mini:org::id`.
/// Case does not matter. Unknown models get [`DEFAULT_ENCODING`] with
/// `known_model: false`.
pub fn encoding_for_model(model: &str) -> ModelEncoding {
    let name = normalise(model);
    let known = PREFIXES
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map(|&(_, encoding)| encoding)
        .or_else(|| newer_family(&name).then_some(Encoding::O200kBase));
    ModelEncoding { encoding: known.unwrap_or(DEFAULT_ENCODING), known_model: known.is_some() }
}

/// Lower case, without a provider path (`openai/`) or fine-tune prefix (`ft:`).
fn normalise(model: &str) -> String {
    let name = model.trim().to_ascii_lowercase();
    let name = name.rsplit('/').next().unwrap_or(&name).to_owned();
    match name.strip_prefix("ft:") {
        Some(rest) => rest.to_owned(),
        None => name,
    }
}

/// The o-series (`o1`, `o3-mini`, `o4-mini-high`...) and `gpt-5` onwards.
fn newer_family(name: &str) -> bool {
    let leading_number = |s: &str| -> Option<u32> {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    if let Some(rest) = name.strip_prefix('o') {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let after = rest[digits..].chars().next();
        return digits > 0 && matches!(after, None | Some('-' | '.' | '_'));
    }
    name.strip_prefix("gpt-").and_then(leading_number).is_some_and(|major| major >= 5)
}

/// Azure deployment names mapped to the model they serve, for deployments
/// whose names hide the model. Keys are compared case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentModels {
    models: HashMap<String, String>,
}

impl DeploymentModels {
    /// A mapping from `(deployment, model)` pairs.
    pub fn from_pairs<D: Into<String>, M: Into<String>>(pairs: impl IntoIterator<Item = (D, M)>) -> Self {
        let models = pairs.into_iter().map(|(d, m)| (d.into().to_ascii_lowercase(), m.into())).collect();
        Self { models }
    }

    /// The model behind `deployment`, if it is mapped.
    pub fn model_for(&self, deployment: &str) -> Option<&str> {
        self.models.get(&deployment.trim().to_ascii_lowercase()).map(String::as_str)
    }

    /// The encoding for a deployment name: through the mapping when it is
    /// mapped, otherwise the name is taken as a model name (Azure deployments
    /// are often named after their model).
    pub fn encoding_for(&self, deployment: &str) -> ModelEncoding {
        encoding_for_model(self.model_for(deployment).unwrap_or(deployment))
    }
}

/// A malformed `deployment=model,...` list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deployment mapping entry {0:?} is not `deployment=model`")]
pub struct BadDeploymentMapping(pub String);

impl FromStr for DeploymentModels {
    type Err = BadDeploymentMapping;

    /// Parses `chat-prod=gpt-4o, embed=text-embedding-3-large` (the form an
    /// environment variable can hold); an empty string is an empty mapping.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut pairs = Vec::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match entry.split_once('=') {
                Some((d, m)) if !d.trim().is_empty() && !m.trim().is_empty() => {
                    pairs.push((d.trim().to_owned(), m.trim().to_owned()));
                }
                _ => return Err(BadDeploymentMapping(entry.to_owned())),
            }
        }
        Ok(Self::from_pairs(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(model: &str) -> (Encoding, bool) {
        let m = encoding_for_model(model);
        (m.encoding, m.known_model)
    }

    #[test]
    fn newer_families_use_o200k() {
        for model in [
            "gpt-4o",
            "gpt-4o-mini-2024-07-18",
            "GPT-4o",
            "gpt-4.1-nano",
            "gpt-4.5-preview",
            "gpt-5",
            "gpt-5-mini",
            "o1",
            "o1-mini",
            "o3-mini",
            "o4-mini",
            "gpt-oss-120b",
            "openai/gpt-4.1",
            "ft:gpt-4o-mini-2024-07-18:org::abc",
            "chatgpt-4o-latest",
        ] {
            assert_eq!(enc(model), (Encoding::O200kBase, true), "{model}");
        }
    }

    #[test]
    fn older_families_and_embeddings_use_cl100k() {
        for model in [
            "gpt-4",
            "gpt-4-0613",
            "gpt-4-32k",
            "gpt-4-turbo",
            "gpt-4-turbo-2024-04-09",
            "gpt-35-turbo",
            "gpt-35-turbo-16k",
            "gpt-3.5-turbo-0125",
            "text-embedding-ada-002",
            "text-embedding-3-large",
            "ft:gpt-35-turbo-0613:org::x",
            "davinci-002",
        ] {
            assert_eq!(enc(model), (Encoding::Cl100kBase, true), "{model}");
        }
    }

    #[test]
    fn unknown_models_get_the_default_and_are_flagged() {
        for model in ["chat-prod", "", "llama-3", "omega", "gpt-"] {
            assert_eq!(enc(model), (DEFAULT_ENCODING, false), "{model}");
        }
    }

    #[test]
    fn deployments_resolve_through_the_mapping() {
        let map: DeploymentModels =
            "chat-prod=gpt-35-turbo, Embed = text-embedding-3-small".parse().expect("valid mapping");
        assert_eq!(map.model_for("CHAT-PROD"), Some("gpt-35-turbo"));
        assert_eq!(map.encoding_for("chat-prod").encoding, Encoding::Cl100kBase);
        assert!(map.encoding_for("embed").known_model);
        // Unmapped deployments named after their model still resolve.
        assert_eq!(map.encoding_for("gpt-4o").encoding, Encoding::O200kBase);
        assert!(!map.encoding_for("team-x").known_model);
        assert!("nonsense".parse::<DeploymentModels>().is_err());
        assert_eq!("".parse::<DeploymentModels>(), Ok(DeploymentModels::default()));
    }
}
