//! The token pass: the text read as tolerant JSON-like tokens, credential
//! values replaced in place (so everything else stays as received).
//!
//! Strings may be double- or single-quoted, their escapes (`\"`, `\\`,
//! `\uXXXX`, surrogate pairs) are decoded before a name is compared, and a
//! string cut off by truncation runs to the end of the text. Objects and
//! arrays are tracked on a stack, never by recursion, so any nesting depth
//! is read in one pass.

use std::collections::BTreeMap;

use super::{MAX_NESTING, already_safe, names, redact_text, replacement, text};
use crate::domain::Fingerprinter;

#[derive(Debug)]
enum Kind {
    /// A string: its quote and its decoded content; `closed` unless cut off.
    Str {
        quote: u8,
        content: String,
        closed: bool,
    },
    /// A bare word: a number, `true`, an unquoted name or value.
    Bare,
    Open(u8),
    Close,
    Colon,
    Comma,
}

#[derive(Debug)]
struct Token {
    start: usize,
    end: usize,
    kind: Kind,
}

/// One open object or array.
#[derive(Debug, Default)]
struct Frame {
    is_array: bool,
    /// Everything inside is a credential's value.
    secret: bool,
    /// The frame whose pair values this frame's scalars belong to.
    collect_into: Option<usize>,
    /// This object's `name` field names a credential.
    pair_name_secret: bool,
    /// Tokens of this object's `value` field (and of everything inside it).
    pair_values: Vec<usize>,
    /// In an array: the previous element named a credential.
    next_secret: bool,
}

/// The field name read just before a value.
#[derive(Debug, Clone, Copy, Default)]
struct Key {
    secret: bool,
    pair_name: bool,
    pair_value: bool,
}

#[derive(Debug)]
enum Edit {
    /// Replace the token by the fingerprint of its value.
    Secret,
    /// Replace the string by this (already redacted) content.
    Content(String),
}

/// The text with credential values replaced.
pub(super) fn redact_tokens(text: &str, fingerprinter: &Fingerprinter, depth: usize) -> String {
    let tokens = tokenize(text);
    let edits = plan(text, &tokens, fingerprinter, depth);
    if edits.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 64 * edits.len());
    let mut at = 0;
    for (index, edit) in edits {
        let token = &tokens[index];
        out.push_str(&text[at..token.start]);
        let raw = &text[token.start..token.end];
        match (&token.kind, edit) {
            (Kind::Str { quote, content, closed }, Edit::Secret) => {
                push_quoted(&mut out, &replacement(content, fingerprinter), *quote, *closed);
            }
            (Kind::Str { quote, closed, .. }, Edit::Content(new)) => push_quoted(&mut out, &new, *quote, *closed),
            (_, _) => push_quoted(&mut out, &replacement(raw, fingerprinter), b'"', true),
        }
        at = token.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Decides which tokens change.
fn plan(text: &str, tokens: &[Token], fingerprinter: &Fingerprinter, depth: usize) -> BTreeMap<usize, Edit> {
    let mut edits = BTreeMap::new();
    // The root behaves as an object, so `AppKey: …` without braces is read too.
    let mut stack = vec![Frame::default()];
    let mut key: Option<Key> = None;
    for (index, token) in tokens.iter().enumerate() {
        match &token.kind {
            Kind::Open(bracket) => {
                let (secret, collect_into) = value_context(&mut stack, key);
                let is_array = *bracket == b'[';
                stack.push(Frame { is_array, secret, collect_into, ..Frame::default() });
                key = None;
            }
            Kind::Close => {
                if stack.len() > 1
                    && let Some(frame) = stack.pop()
                {
                    finish(frame, &mut edits);
                }
                key = None;
            }
            Kind::Comma => key = None,
            Kind::Colon => {}
            Kind::Str { .. } | Kind::Bare => {
                let name = token_text(text, token);
                if tokens.get(index + 1).is_some_and(|next| matches!(next.kind, Kind::Colon)) {
                    key = Some(Key {
                        secret: names::is_secret(&name),
                        pair_name: names::is_pair_name(&name),
                        pair_value: names::is_pair_value(&name),
                    });
                    continue;
                }
                let (secret, collect_into) = value_context(&mut stack, key);
                let is_literal = matches!(token.kind, Kind::Bare) && matches!(&*name, "null" | "true" | "false");
                if secret {
                    if !is_literal && !already_safe(&name) {
                        edits.insert(index, Edit::Secret);
                    }
                } else {
                    if let Some(owner) = collect_into {
                        stack[owner].pair_values.push(index);
                    }
                    let top = stack.len() - 1;
                    if key.is_some_and(|k| k.pair_name) && names::is_secret(&name) {
                        stack[top].pair_name_secret = true;
                    }
                    if stack[top].is_array && matches!(token.kind, Kind::Str { .. }) && names::is_secret(&name) {
                        stack[top].next_secret = true;
                    }
                    if let Kind::Str { content, .. } = &token.kind {
                        let redacted = redact_content(content, fingerprinter, depth);
                        if redacted != *content {
                            edits.insert(index, Edit::Content(redacted));
                        }
                    }
                }
                key = None;
            }
        }
    }
    // A body cut off by truncation leaves frames open: they count as closed.
    while let Some(frame) = stack.pop() {
        finish(frame, &mut edits);
    }
    edits
}

/// Whether the value starting now is a credential's, and which frame
/// collects it as a pair value. Consumes an array's "next is secret" mark.
fn value_context(stack: &mut [Frame], key: Option<Key>) -> (bool, Option<usize>) {
    let top = stack.len() - 1;
    let frame = &mut stack[top];
    let after_secret_element = frame.is_array && std::mem::take(&mut frame.next_secret);
    let secret = frame.secret || after_secret_element || key.is_some_and(|k| k.secret);
    let collect_into =
        if key.is_some_and(|k| k.pair_value) && !frame.is_array { Some(top) } else { frame.collect_into };
    (secret, collect_into)
}

/// A closed object whose `name` named a credential: its `value` is one.
fn finish(frame: Frame, edits: &mut BTreeMap<usize, Edit>) {
    if frame.pair_name_secret {
        for index in frame.pair_values {
            edits.insert(index, Edit::Secret);
        }
    }
}

/// A string's content, redacted: JSON held in it recursively, patterns always.
fn redact_content(content: &str, fingerprinter: &Fingerprinter, depth: usize) -> String {
    let trimmed = content.trim_start();
    if depth < MAX_NESTING && (trimmed.starts_with('{') || trimmed.starts_with('[')) {
        redact_text(content, fingerprinter, depth + 1)
    } else {
        text::redact_patterns(content, fingerprinter)
    }
}

/// A token's meaning: a string's decoded content, a bare word as written.
fn token_text<'t>(text: &'t str, token: &'t Token) -> std::borrow::Cow<'t, str> {
    match &token.kind {
        Kind::Str { content, .. } => std::borrow::Cow::Borrowed(content.as_str()),
        _ => std::borrow::Cow::Borrowed(&text[token.start..token.end]),
    }
}

fn push_quoted(out: &mut String, content: &str, quote: u8, closed: bool) {
    let quote = char::from(quote);
    out.push(quote);
    for c in content.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    if closed {
        out.push(quote);
    }
}

/// The tokens of a text. Never fails: anything is some token.
fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let kind = match bytes[i] {
            b if b.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'{' | b'[' => {
                i += 1;
                Kind::Open(bytes[start])
            }
            b'}' | b']' => {
                i += 1;
                Kind::Close
            }
            b':' => {
                i += 1;
                Kind::Colon
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            quote @ (b'"' | b'\'') => {
                let (content, end, closed) = read_string(text, start, quote);
                i = end;
                Kind::Str { quote, content, closed }
            }
            _ => {
                while i < bytes.len() && !is_delimiter(bytes[i]) {
                    i += 1;
                }
                Kind::Bare
            }
        };
        tokens.push(Token { start, end: i, kind });
    }
    tokens
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b',' | b'"' | b'\'')
}

/// Reads the string starting at `start` (its quote): decoded content, the
/// end offset, and whether it was closed. A raw line break ends a string
/// that was never closed (text, not JSON).
fn read_string(text: &str, start: usize, quote: u8) -> (String, usize, bool) {
    let bytes = text.as_bytes();
    let mut content = String::new();
    let mut i = start + 1;
    let mut segment = i;
    loop {
        let Some(&b) = bytes.get(i) else {
            content.push_str(&text[segment..]);
            return (content, bytes.len(), false);
        };
        if b == quote {
            content.push_str(&text[segment..i]);
            return (content, i + 1, true);
        }
        if b == b'\n' {
            content.push_str(&text[segment..i]);
            return (content, i, false);
        }
        if b != b'\\' {
            i += 1;
            continue;
        }
        content.push_str(&text[segment..i]);
        let Some(&escape) = bytes.get(i + 1) else {
            return (content, bytes.len(), false);
        };
        i += 2;
        match escape {
            b'n' => content.push('\n'),
            b'r' => content.push('\r'),
            b't' => content.push('\t'),
            b'b' => content.push('\u{8}'),
            b'f' => content.push('\u{c}'),
            b'u' => {
                let (c, used) = unicode_escape(text, i);
                content.push(c);
                i += used;
            }
            _ => {
                // `\"`, `\\`, `\/`, `\'` and anything else: the character itself.
                let c = text[i - 1..].chars().next().unwrap_or('\u{fffd}');
                content.push(c);
                i += c.len_utf8() - 1;
            }
        }
        segment = i;
    }
}

/// The character of `\uXXXX` (and of a following low surrogate), from the
/// four hex digits at `at`; how many bytes after `\u` it used.
fn unicode_escape(text: &str, at: usize) -> (char, usize) {
    let hex = |from: usize| text.get(from..from + 4).and_then(|h| u32::from_str_radix(h, 16).ok());
    let Some(first) = hex(at) else {
        return ('\u{fffd}', 0);
    };
    if (0xd800..0xdc00).contains(&first)
        && text.get(at + 4..at + 6) == Some("\\u")
        && let Some(second) = hex(at + 6)
        && (0xdc00..0xe000).contains(&second)
    {
        let combined = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
        return (char::from_u32(combined).unwrap_or('\u{fffd}'), 10);
    }
    (char::from_u32(first).unwrap_or('\u{fffd}'), 4)
}
