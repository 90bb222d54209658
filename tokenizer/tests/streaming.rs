//! A streamed response reassembled from its server-sent events counts the
//! same as its text counted directly; usage in the final chunk is reported.

use chargeback_tokenizer::{
    Encoding, Provenance, ReportedUsage, count_completion, count_text, reported_usage, resolve_usage,
};
use serde_json::json;

const ANSWER: &str = "Streaming splits words at arbitrary places: \"tokenization\" may arrive as \
\"tok\", \"eniz\", \"ation\". Über-naïve counters that count chunks get 日本語 and emoji 🎉 wrong.\n\n\
- item one\n- item two's end";
const SECOND: &str = "A second choice (n = 2), shorter.";
const ARGUMENTS: &str = r#"{"location": "San Francisco, CA", "unit": "celsius"}"#;

/// Splits `text` into chunks of 1 to 7 characters (never inside a character).
fn chunks(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut step) = (0, 1);
    while i < chars.len() {
        let end = (i + step).min(chars.len());
        out.push(chars[i..end].iter().collect());
        i = end;
        step = step % 7 + 1;
    }
    out
}

fn event(data: serde_json::Value) -> String {
    format!("data: {data}\n\n")
}

/// An Azure-style stream: a prompt-filter chunk with no choices first, then
/// the two choices' content deltas interleaved, then `[DONE]`.
fn two_choice_stream(with_usage: bool) -> String {
    let mut body = event(json!({"choices": [], "prompt_filter_results": [{"prompt_index": 0}]}));
    body += &event(json!({"model": "gpt-4o-2024-08-06", "choices": [
        {"index": 0, "delta": {"role": "assistant", "content": ""}},
        {"index": 1, "delta": {"role": "assistant", "content": ""}}
    ]}));
    let (first, second) = (chunks(ANSWER), chunks(SECOND));
    for i in 0..first.len().max(second.len()) {
        if let Some(c) = first.get(i) {
            body += &event(json!({"choices": [{"index": 0, "delta": {"content": c}}]}));
        }
        if let Some(c) = second.get(i) {
            body += &event(json!({"choices": [{"index": 1, "delta": {"content": c}}]}));
        }
    }
    body += &event(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"},
                                      {"index": 1, "delta": {}, "finish_reason": "stop"}]}));
    if with_usage {
        body += &event(json!({"choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 77,
            "total_tokens": 107, "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0}}}));
    }
    body + "data: [DONE]\n\n"
}

#[test]
fn reassembled_stream_counts_like_the_text_for_every_choice_and_both_encodings() {
    let stream = two_choice_stream(false);
    for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
        let count = count_completion(enc, &stream).expect("countable");
        let direct = [count_text(enc, ANSWER), count_text(enc, SECOND)];
        assert_eq!(count.choice_tokens, direct, "{enc}");
        assert_eq!(count.tokens, direct[0] + direct[1]);
        assert_eq!(count.reported, None);
        assert_eq!(count.model.as_deref(), Some("gpt-4o-2024-08-06"));
        // Counting chunk by chunk would overcount: the reason to reassemble.
        let per_chunk: u64 = chunks(ANSWER).iter().map(|c| count_text(enc, c)).sum();
        assert!(per_chunk > direct[0]);
    }
}

#[test]
fn final_usage_chunk_is_reported_and_preferred() {
    let stream = two_choice_stream(true);
    let expected = ReportedUsage { prompt: 30, completion: 77, total: 107, cached: 0, reasoning: 0 };
    let count = count_completion(Encoding::O200kBase, &stream).expect("countable");
    assert_eq!(count.reported, Some(expected));
    assert_eq!(reported_usage(&stream), Some(expected));
    let usage = resolve_usage(Encoding::O200kBase, None, Some(&stream)).expect("countable");
    assert_eq!((usage.prompt, usage.completion, usage.provenance), (30, 77, Provenance::Reported));
}

#[test]
fn streamed_tool_call_arguments_and_refusals_are_counted() {
    let enc = Encoding::O200kBase;
    let mut body = event(json!({"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_current_weather", "arguments": ""}}
    ]}}]}));
    for c in chunks(ARGUMENTS) {
        body += &event(
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": c}}]}}]}),
        );
    }
    body += &event(json!({"choices": [{"index": 1, "delta": {"refusal": "I can't "}}]}));
    body += &event(json!({"choices": [{"index": 1, "delta": {"refusal": "help with that."}}]}));
    body += "data: [DONE]\n\n";
    let count = count_completion(enc, &body).expect("countable");
    assert_eq!(count.tool_calls, 1);
    assert_eq!(
        count.choice_tokens,
        [
            count_text(enc, "get_current_weather") + count_text(enc, ARGUMENTS),
            count_text(enc, "I can't help with that.")
        ]
    );
}

#[test]
fn legacy_completions_stream_is_reassembled() {
    let text = "Once upon a time, in a land far away";
    let body: String = chunks(text)
        .iter()
        .map(|c| event(json!({"object": "text_completion", "choices": [{"index": 0, "text": c}]})))
        .collect::<String>()
        + "data: [DONE]\n\n";
    let count = count_completion(Encoding::Cl100kBase, &body).expect("countable");
    assert_eq!(count.tokens, count_text(Encoding::Cl100kBase, text));
}

#[test]
fn responses_api_stream_is_reassembled_and_its_usage_reported() {
    let text = "The Responses API streams typed events.";
    let mut body = String::new();
    for c in chunks(text) {
        body += &format!(
            "event: response.output_text.delta\n{}",
            event(json!({
            "type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": c}))
        );
    }
    let count = count_completion(Encoding::O200kBase, &body).expect("countable");
    assert_eq!(count.tokens, count_text(Encoding::O200kBase, text));
    body += &event(json!({"type": "response.completed", "response": {"model": "gpt-4.1",
        "usage": {"input_tokens": 12, "output_tokens": 8, "total_tokens": 20}}}));
    let usage = reported_usage(&body).expect("reported");
    assert_eq!((usage.prompt, usage.completion, usage.total), (12, 8, 20));
}

#[test]
fn a_truncated_stream_counts_what_arrived_and_says_what_was_skipped() {
    let body =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello world\"}}]}\n\ndata: {\"choices\":[{\"ind";
    let count = count_completion(Encoding::O200kBase, body).expect("countable");
    assert_eq!((count.tokens, count.skipped_events), (2, 1));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(count_completion(Encoding::O200kBase, "not json at all").is_err());
    assert!(count_completion(Encoding::O200kBase, "data: nope\n\n").is_err());
}

#[test]
fn a_logged_stream_without_blank_lines_between_events_is_still_read() {
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\
                data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"}}]}\n\
                data: [DONE]\n";
    let count = count_completion(Encoding::O200kBase, body).expect("countable");
    assert_eq!((count.tokens, count.skipped_events), (2, 0));
}

#[test]
fn a_huge_choice_index_does_not_allocate_a_huge_vector() {
    let body = "data: {\"choices\":[{\"index\":4000000000,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    let count = count_completion(Encoding::O200kBase, body).expect("countable");
    assert_eq!(count.choice_tokens, [1]);
}
