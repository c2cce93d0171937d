//! [`JsonRows`]: a query over documents stored as JSON text, reading only what it needs.

use serde_json::Value;

use super::Document;
use super::compile::Plan;
use super::rows::Rows;
use super::sparse::{Needs, read_sparse};
use crate::TwinError;

/// The rows of a query over documents given as JSON text, from
/// [`crate::query::Query::evaluate_json`].
///
/// Each document is parsed into only the members the query reads (other members are checked
/// and skipped), so the condition costs about one scan of the text; a document that is returned
/// whole (`SELECT *`) is then parsed in full. Rows come as with [`Rows`]. If a text is not valid
/// JSON, the rows stop with [`TwinError::InvalidJson`] (no aggregate over the part before it is
/// returned).
#[derive(Debug)]
pub struct JsonRows<'q, I> {
    rows: Rows<'q, Texts<'q, I>>,
    failed: bool,
}

impl<'q, I> JsonRows<'q, I>
where
    I: Iterator,
    I::Item: AsRef<[u8]>,
{
    /// The rows of `plan` over the texts of `input`, read as `needs` says.
    pub(crate) fn new(plan: &'q Plan, needs: &'q Needs, input: I) -> Self {
        let texts = Texts {
            input,
            needs,
            error: None,
        };
        Self {
            rows: Rows::new(plan, texts),
            failed: false,
        }
    }
}

impl<I> Iterator for JsonRows<'_, I>
where
    I: Iterator,
    I::Item: AsRef<[u8]>,
{
    type Item = Result<Value, TwinError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let row = self.rows.next();
        if let Some(error) = self.rows.input_mut().error.take() {
            self.failed = true;
            return Some(Err(error));
        }
        row.map(Ok)
    }
}

/// The documents of a text input, read sparsely; stops at the first invalid text and leaves
/// the error for [`JsonRows`].
#[derive(Debug)]
pub(crate) struct Texts<'n, I> {
    input: I,
    needs: &'n Needs,
    error: Option<TwinError>,
}

impl<I> Iterator for Texts<'_, I>
where
    I: Iterator,
    I::Item: AsRef<[u8]>,
{
    type Item = TextDocument<I::Item>;

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.input.next()?;
        let parsed = if self.needs.is_empty() {
            serde_json::from_slice(text.as_ref())
                .map(|value| (value, None))
                .map_err(|e| e.to_string())
        } else {
            read_sparse(text.as_ref(), self.needs)
                .map(|value| (value, Some(text)))
                .map_err(|e| e.to_string())
        };
        match parsed {
            Ok((value, text)) => Some(TextDocument { value, text }),
            Err(error) => {
                self.error = Some(TwinError::InvalidJson { reason: error });
                None
            }
        }
    }
}

/// A document read from text: the members the query reads, and the text when that is not the
/// whole document.
#[derive(Debug)]
pub(crate) struct TextDocument<T> {
    value: Value,
    text: Option<T>,
}

impl<T: AsRef<[u8]>> Document for TextDocument<T> {
    fn json(&self) -> &Value {
        &self.value
    }

    /// The whole document. The text was already checked as `serde_json` checks it while
    /// reading it sparsely, so parsing it again does not fail; `null` would stand in if it did.
    fn into_json(self) -> Value {
        match self.text {
            None => self.value,
            Some(text) => serde_json::from_slice(text.as_ref()).unwrap_or(Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::TwinError;
    use crate::query::Query;

    #[test]
    fn rows_from_text_match_rows_from_values() {
        let docs = [
            json!({"deviceId": "a", "tags": {"t": 1}, "big": {"skip": [1, 2, {"x": "y"}]}}),
            json!({"deviceId": "b", "tags": {"t": 2}}),
            json!({"deviceId": "c", "tags": {"t": 1}}),
        ];
        let texts: Vec<String> = docs.iter().map(ToString::to_string).collect();
        for text in [
            "SELECT * FROM devices WHERE tags.t = 1",
            "SELECT * FROM devices",
            "SELECT deviceId FROM devices",
            "SELECT tags.t, COUNT() AS n FROM devices GROUP BY tags.t",
            "SELECT TOP 1 * FROM devices WHERE tags.t = 1",
        ] {
            let query = Query::parse(text).unwrap();
            let expected: Vec<_> = query.evaluate(&docs).collect();
            let rows: Result<Vec<_>, _> = query.evaluate_json(&texts).collect();
            assert_eq!(rows.unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn rows_can_move_between_threads() {
        fn send<T: Send>(_: &T) {}
        let query = Query::parse("SELECT * FROM devices").unwrap();
        let texts = vec![String::from("{}")];
        send(&query.evaluate_json(texts));
        send(&query.evaluate(vec![json!({})]));
    }

    #[test]
    fn invalid_text_ends_the_rows_with_an_error() {
        let texts = [r#"{"a": 1}"#, r#"{"a": 2"#, r#"{"a": 1}"#];
        let query = Query::parse("SELECT * FROM devices WHERE a = 1").unwrap();
        let mut rows = query.evaluate_json(texts);
        assert_eq!(rows.next().unwrap().unwrap(), json!({"a": 1}));
        assert!(matches!(
            rows.next(),
            Some(Err(TwinError::InvalidJson { .. }))
        ));
        assert!(rows.next().is_none());
        // Aggregates over a partly invalid input give the error, not a partial count.
        let count = Query::parse("SELECT COUNT() AS n FROM devices").unwrap();
        let rows: Vec<_> = count.evaluate_json(texts).collect();
        assert!(matches!(
            rows.as_slice(),
            [Err(TwinError::InvalidJson { .. })]
        ));
    }
}
