//! Server-sent events, as the OpenAI and Azure OpenAI APIs stream them.
//!
//! Events are separated by a blank line; each `data:` line adds a line to
//! the event's data (one optional space after the colon is dropped);
//! `event:`, `id:`, `retry:` and `:` comment lines are ignored. The stream
//! ends with `data: [DONE]`.

/// The data of each event in a stream, in order, up to `[DONE]`.
pub(crate) fn event_data(body: &str) -> SseEvents<'_> {
    SseEvents { rest: body, done: false }
}

/// Whether `body` looks like a stream of server-sent events.
pub(crate) fn looks_like_sse(body: &str) -> bool {
    let start = body.trim_start();
    ["data:", "event:", "id:", "retry:", ":"].iter().any(|field| start.starts_with(field))
}

/// Iterator over the data of the events of a stream.
#[derive(Debug)]
pub(crate) struct SseEvents<'a> {
    rest: &'a str,
    done: bool,
}

impl Iterator for SseEvents<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        while !self.done && !self.rest.is_empty() {
            let mut data: Option<String> = None;
            // Read lines until a blank line ends the event.
            loop {
                let (line, rest) = match self.rest.find('\n') {
                    Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                    None => (self.rest, ""),
                };
                self.rest = rest;
                let line = line.strip_suffix('\r').unwrap_or(line);
                if line.is_empty() {
                    break;
                }
                if let Some(value) = line.strip_prefix("data:") {
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match &mut data {
                        Some(d) => {
                            d.push('\n');
                            d.push_str(value);
                        }
                        None => data = Some(value.to_owned()),
                    }
                }
                if self.rest.is_empty() {
                    break;
                }
            }
            match data {
                Some(d) if d.trim() == "[DONE]" => self.done = true,
                Some(d) => return Some(d),
                None => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_on_blank_lines_and_stop_at_done() {
        let body = "data: {\"a\":1}\n\n: keep-alive\n\nevent: x\r\ndata:{\"b\":2}\r\n\r\ndata: [DONE]\n\ndata: {\"late\":3}\n\n";
        let events: Vec<String> = event_data(body).collect();
        assert_eq!(events, ["{\"a\":1}", "{\"b\":2}"]);
    }

    #[test]
    fn multi_line_data_is_joined_and_a_missing_final_blank_line_is_fine() {
        let body = "data: {\"a\":\ndata: 1}";
        assert_eq!(event_data(body).collect::<Vec<_>>(), ["{\"a\":\n1}"]);
    }

    #[test]
    fn streams_are_told_from_json() {
        assert!(looks_like_sse("\n data: {}"));
        assert!(!looks_like_sse("{\"choices\": []}"));
    }
}
