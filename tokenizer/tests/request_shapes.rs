//! Request bodies beyond plain text messages: image parts, tool calls and
//! tool results, legacy completions prompts, embeddings and Responses input.
//! Each is handled as docs/token-counting.md says rather than crashing.

use chargeback_tokenizer::{
    CountError, Encoding, PromptKind, REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, count_prompt, count_text,
};
use serde_json::json;

const ENC: Encoding = Encoding::O200kBase;

fn tokens(text: &str) -> u64 {
    count_text(ENC, text)
}

#[test]
fn image_parts_are_flagged_not_counted_and_text_parts_are_counted() {
    let body = json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    ]}]});
    let count = count_prompt(ENC, &body).expect("countable");
    assert_eq!(count.images_not_counted, 1);
    assert_eq!(count.other_parts_not_counted, 1);
    assert_eq!(
        count.tokens,
        TOKENS_PER_MESSAGE + tokens("user") + tokens("What is in this image?") + REPLY_PRIMING_TOKENS
    );
}

#[test]
fn assistant_tool_calls_and_tool_results_are_counted() {
    let arguments = r#"{"location":"Paris"}"#;
    let body = json!({"messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
        ]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "18 C, sunny"}
    ]});
    let count = count_prompt(ENC, &body).expect("countable");
    let expected = 3 * TOKENS_PER_MESSAGE
        + tokens("user")
        + tokens("Weather in Paris?")
        + tokens("assistant")
        + tokens("get_weather")
        + tokens(arguments)
        + tokens("tool")
        + tokens("18 C, sunny")
        + REPLY_PRIMING_TOKENS;
    assert_eq!((count.tokens, count.messages), (expected, 3));
}

#[test]
fn legacy_completions_prompts_count_as_plain_text_or_token_ids() {
    let single = count_prompt(ENC, &json!({"prompt": "Say this is a test"})).expect("countable");
    assert_eq!((single.tokens, single.kind), (tokens("Say this is a test"), PromptKind::Completions));
    let many = count_prompt(ENC, &json!({"prompt": ["one prompt", "another prompt"]})).expect("countable");
    assert_eq!(many.tokens, tokens("one prompt") + tokens("another prompt"));
    let ids = count_prompt(ENC, &json!({"prompt": [[1, 2, 3], [4, 5]]})).expect("countable");
    assert_eq!(ids.tokens, 5);
}

#[test]
fn embeddings_input_counts_without_overhead() {
    let count =
        count_prompt(Encoding::Cl100kBase, &json!({"input": ["first text", "second text"]})).expect("countable");
    assert_eq!(count.kind, PromptKind::Input);
    assert_eq!(
        count.tokens,
        count_text(Encoding::Cl100kBase, "first text") + count_text(Encoding::Cl100kBase, "second text")
    );
}

#[test]
fn responses_input_messages_count_like_chat_with_instructions_as_system() {
    let responses = json!({"instructions": "Be brief.", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Hi there"}]}
    ]});
    let chat = json!({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"}
    ]});
    assert_eq!(
        count_prompt(ENC, &responses).expect("countable").tokens,
        count_prompt(ENC, &chat).expect("countable").tokens
    );
}

#[test]
fn malformed_bodies_are_errors_not_panics() {
    assert!(matches!(count_prompt(ENC, &json!({"model": "gpt-4o"})), Err(CountError::NothingToCount)));
    assert!(matches!(
        count_prompt(ENC, &json!({"messages": [{"role": "user", "content": 42}]})),
        Err(CountError::UnexpectedShape { .. })
    ));
    assert!(count_prompt(ENC, &json!({"messages": "hello"})).is_err());
    assert!(count_prompt(ENC, &json!({"prompt": [{"x": 1}]})).is_err());
    assert!(count_prompt(ENC, &json!({"messages": [], "tools": "nope"})).is_err());
}
