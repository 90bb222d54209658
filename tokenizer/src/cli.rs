//! `chargeback tokens`: count the tokens of a request body or a text file
//! from the command line. The `handlers` crate owns the argument parsing and
//! calls [`run_tokens_command`].

use std::path::{Path, PathBuf};

use crate::{CountError, count_prompt, count_text, encoding_for_model};

/// Why the tokens command failed.
#[derive(Debug, thiserror::Error)]
pub enum TokensCommandError {
    /// Neither or both of `--messages` and `--text` were given.
    #[error("give exactly one of --messages FILE.json or --text FILE")]
    NeedOneInput,
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The messages file is not JSON.
    #[error("{path} is not JSON: {source}")]
    NotJson {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The JSON is not a request body we can count.
    #[error("{path}: {source}")]
    Count {
        /// The file.
        path: PathBuf,
        /// Why.
        source: CountError,
    },
}

/// Runs `chargeback tokens --model MODEL (--messages FILE.json | --text FILE)`
/// and returns what to print: the count first, then what it means, e.g.
/// `124 prompt tokens (o200k_base; 6 messages)`. The messages file is a chat
/// completions request body or a bare messages array (legacy completions and
/// embeddings bodies work too).
pub fn run_tokens_command(
    model: &str,
    messages_file: Option<&Path>,
    text_file: Option<&Path>,
) -> Result<String, TokensCommandError> {
    let model_encoding = encoding_for_model(model);
    let enc = model_encoding.encoding;
    let mut notes = vec![enc.to_string()];
    if !model_encoding.known_model {
        notes.push(format!("unknown model {model:?}, default encoding"));
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| TokensCommandError::Read { path: path.to_owned(), source })
    };
    let line = match (messages_file, text_file) {
        (Some(path), None) => {
            let body: serde_json::Value = serde_json::from_str(&read(path)?)
                .map_err(|source| TokensCommandError::NotJson { path: path.to_owned(), source })?;
            let count = count_prompt(enc, &body)
                .map_err(|source| TokensCommandError::Count { path: path.to_owned(), source })?;
            let mut note = |n: u32, one: &str, many: &str| {
                if n > 0 {
                    notes.push(format!("{n} {}", if n == 1 { one } else { many }));
                }
            };
            note(count.messages, "message", "messages");
            note(count.tool_definitions, "tool definition", "tool definitions");
            note(count.images_not_counted, "image part not counted", "image parts not counted");
            note(count.other_parts_not_counted, "audio/file part not counted", "audio/file parts not counted");
            format!("{} prompt tokens", count.tokens)
        }
        (None, Some(path)) => format!("{} tokens", count_text(enc, &read(path)?)),
        _ => return Err(TokensCommandError::NeedOneInput),
    };
    Ok(format!("{line} ({})\n", notes.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, contents: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("chargeback-tokens-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("temp dir is writable");
        path
    }

    #[test]
    fn a_text_file_is_counted() {
        let path = temp_file("text.txt", "hello world");
        let out = run_tokens_command("gpt-4o", None, Some(&path)).expect("counts");
        assert_eq!(out, "2 tokens (o200k_base)\n");
    }

    #[test]
    fn a_bare_messages_array_is_counted_and_unknown_models_are_noted() {
        let path = temp_file("messages.json", r#"[{"role": "user", "content": "hello world"}]"#);
        let out = run_tokens_command("team-bot", Some(&path), None).expect("counts");
        // 3 + "user" 1 + "hello world" 2 + 3 priming
        assert_eq!(out, "9 prompt tokens (o200k_base; unknown model \"team-bot\", default encoding; 1 message)\n");
    }

    #[test]
    fn neither_or_both_inputs_is_an_error() {
        assert!(matches!(run_tokens_command("gpt-4o", None, None), Err(TokensCommandError::NeedOneInput)));
        let p = Path::new("x");
        assert!(run_tokens_command("gpt-4o", Some(p), Some(p)).is_err());
        assert!(matches!(
            run_tokens_command("gpt-4o", None, Some(Path::new("/nonexistent/file"))),
            Err(TokensCommandError::Read { .. })
        ));
    }
}
