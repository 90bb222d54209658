//! Prompt (and completion) token counts that OpenAI and Microsoft publish
//! next to the request that produced them, for both encodings.

use chargeback_tokenizer::{Encoding, count_completion, count_prompt, count_text, encoding_for_model};
use serde_json::{Value, json};

/// The six messages (three with `name`) of OpenAI's cookbook "How to count
/// tokens with tiktoken", section 6:
/// https://github.com/openai/openai-cookbook/blob/main/examples/How_to_count_tokens_with_tiktoken.ipynb
/// (also https://cookbook.openai.com/examples/how_to_count_tokens_with_tiktoken).
fn cookbook_messages() -> Value {
    json!([
        {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
        {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
        {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
        {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
        {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
        {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
    ])
}

fn prompt_tokens(model: &str, body: &Value) -> u64 {
    let enc = encoding_for_model(model);
    assert!(enc.known_model, "{model} should be a known model");
    count_prompt(enc.encoding, body).expect("countable").tokens
}

#[test]
fn cookbook_messages_are_129_tokens_for_gpt_35_turbo_and_gpt_4() {
    // Cookbook output: "129 prompt tokens counted by the OpenAI API." for
    // gpt-3.5-turbo-0613/-0125, gpt-4-0314, gpt-4-0613 and gpt-4 (cl100k_base).
    for model in ["gpt-3.5-turbo-0125", "gpt-35-turbo", "gpt-4-0613", "gpt-4"] {
        assert_eq!(prompt_tokens(model, &cookbook_messages()), 129, "{model}");
    }
}

#[test]
fn cookbook_messages_are_124_tokens_for_gpt_4o_and_gpt_4o_mini() {
    // Cookbook output: "124 prompt tokens counted by the OpenAI API." for
    // gpt-4o and gpt-4o-mini (o200k_base).
    for model in ["gpt-4o", "gpt-4o-mini"] {
        assert_eq!(prompt_tokens(model, &cookbook_messages()), 124, "{model}");
    }
}

#[test]
fn a_chat_body_counts_like_its_bare_messages_array() {
    let body = json!({"model": "gpt-4o", "messages": cookbook_messages(), "n": 3, "stream": true});
    assert_eq!(prompt_tokens("gpt-4o", &body), 124);
}

/// The weather tool and two messages of the cookbook's section 7,
/// "Counting tokens for chat completions with tool calls" (same notebook).
fn cookbook_tools_body() -> Value {
    json!({
        "messages": [
            {"role": "system", "content": "You are a helpful assistant that can answer to questions about the weather."},
            {"role": "user", "content": "What's the weather like in San Francisco?"}
        ],
        "tools": [{
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "description": "Get the current weather in a given location",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                        "unit": {"type": "string", "description": "The unit of temperature to return", "enum": ["celsius", "fahrenheit"]}
                    },
                    "required": ["location"]
                }
            }
        }]
    })
}

#[test]
fn cookbook_tool_request_is_105_tokens_for_gpt_35_turbo_and_gpt_4() {
    // Cookbook output: "105 prompt tokens counted by the OpenAI API."
    for model in ["gpt-3.5-turbo", "gpt-4"] {
        assert_eq!(prompt_tokens(model, &cookbook_tools_body()), 105, "{model}");
    }
}

#[test]
fn cookbook_tool_request_is_101_tokens_for_gpt_4o_and_gpt_4o_mini() {
    // Cookbook output: "101 prompt tokens counted by the OpenAI API."
    for model in ["gpt-4o", "gpt-4o-mini"] {
        assert_eq!(prompt_tokens(model, &cookbook_tools_body()), 101, "{model}");
    }
}

#[test]
fn legacy_functions_count_like_the_same_tools() {
    let mut body = cookbook_tools_body();
    let function = body["tools"][0]["function"].clone();
    body.as_object_mut().map(|b| b.remove("tools"));
    body["functions"] = json!([function]);
    assert_eq!(prompt_tokens("gpt-4o", &body), 101);
}

/// Azure OpenAI's "Work with chat completion models" page shows this request
/// to a gpt-35-turbo deployment and its response with
/// `"usage": {"completion_tokens": 73, "prompt_tokens": 29, "total_tokens": 102}`:
/// https://learn.microsoft.com/en-us/azure/ai-services/openai/how-to/chatgpt
/// (source: MicrosoftDocs/azure-ai-docs, articles/ai-services/openai/includes/chat-completion.md).
const AZURE_ANSWER: &str = "Microsoft was founded by Bill Gates and Paul Allen. They established the company on April 4, 1975. Bill Gates served as the CEO of Microsoft until 2000 and later as Chairman and Chief Software Architect until his retirement in 2008, while Paul Allen left the company in 1983 but remained on the board of directors until 2000.";

#[test]
fn azure_docs_founders_request_is_29_prompt_tokens_on_gpt_35_turbo() {
    let body = json!({"messages": [
        {"role": "system", "content": "Assistant is a large language model trained by OpenAI."},
        {"role": "user", "content": "Who were the founders of Microsoft?"}
    ]});
    assert_eq!(prompt_tokens("gpt-35-turbo", &body), 29);
}

#[test]
fn azure_docs_founders_answer_is_73_completion_tokens_on_gpt_35_turbo() {
    assert_eq!(count_text(Encoding::Cl100kBase, AZURE_ANSWER), 73);
    let response = json!({
        "choices": [{"finish_reason": "stop", "index": 0,
                     "message": {"content": AZURE_ANSWER, "role": "assistant", "function_call": null}}],
        "model": "gpt-35-turbo", "object": "chat.completion"
    });
    let count = count_completion(Encoding::Cl100kBase, &response.to_string()).expect("countable");
    assert_eq!(count.tokens, 73);
    assert_eq!(count.reported, None);
}
