//! What the interop programs share: the result lines and comparing JSON objects.

use std::fmt::Display;
use std::io::Write as _;

use serde_json::Value;

/// Prints one result line, `PASS <pair> <step>` or `FAIL <pair> <step>: <why>`, and returns
/// whether the step passed.
pub(crate) fn report(pair: &str, step: &str, outcome: &Result<(), String>) -> bool {
    let line = match outcome {
        Ok(()) => format!("PASS {pair} {step}"),
        Err(why) => format!("FAIL {pair} {step}: {}", one_line(why)),
    };
    // Standard output is the result channel; without it there is no one to tell.
    let _ = writeln!(std::io::stdout().lock(), "{line}");
    outcome.is_ok()
}

/// `why` on one line, shortened to what a result line can carry.
fn one_line(why: &str) -> String {
    let text = why.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(300) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

/// Fails with `why` unless `condition` holds.
pub(crate) fn check(condition: bool, why: impl Display) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(why.to_string())
    }
}

/// Whether the JSON object `actual` holds every member of `expected` with an equal value
/// (nested objects compared the same way).
pub(crate) fn contains(actual: &Value, expected: &Value) -> bool {
    let (Some(actual), Some(expected)) = (actual.as_object(), expected.as_object()) else {
        return false;
    };
    expected.iter().all(|(key, value)| match actual.get(key) {
        Some(found) if value.is_object() => contains(found, value),
        Some(found) => found == value,
        None => false,
    })
}
