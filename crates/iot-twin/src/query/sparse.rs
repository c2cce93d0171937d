//! Reading only what a query looks at from JSON text.
//!
//! [`Needs`] is the tree of keys a plan reads (from its condition, columns, grouping and
//! aggregates). [`read_sparse`] parses JSON text into a [`Value`] that holds those members and
//! nothing else: other members are checked by [`Scanner`] and skipped without being built.
//! Evaluating a plan over the sparse value gives the same result as over the whole document,
//! since every path the plan walks is either there in full or missing in both. A non-object met
//! where the tree goes deeper stands as `null`: paths through it are missing either way.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::compile::{Keys, Measure, Output, Plan};
use super::eval::Node;
use super::scan::{RawString, ScanError, Scanner};

/// The members of a document a plan reads.
#[derive(Debug, Clone, Default)]
pub(crate) struct Needs {
    /// The whole value is read (a path ends here).
    whole: bool,
    /// Members read below this one.
    children: Vec<(Box<str>, Self)>,
}

impl Needs {
    /// What `plan` reads from each document.
    pub(crate) fn of(plan: &Plan) -> Self {
        let mut needs = Self::default();
        if let Some(filter) = &plan.filter {
            needs.add_node(filter);
        }
        match &plan.output {
            Output::Documents => {}
            Output::Columns(columns) => columns.iter().for_each(|c| needs.add(&c.keys)),
            Output::Groups(groups) => {
                groups.key.iter().for_each(|k| needs.add(k));
                for (_, measure) in &groups.columns {
                    if let Measure::Of(_, keys) = measure {
                        needs.add(keys);
                    }
                }
            }
        }
        needs
    }

    /// Whether nothing is read (a query without condition or columns).
    pub(crate) fn is_empty(&self) -> bool {
        !self.whole && self.children.is_empty()
    }

    fn add(&mut self, keys: &Keys) {
        let mut at = self;
        for key in keys {
            if at.whole {
                return;
            }
            let i = match at.children.iter().position(|(k, _)| k == key) {
                Some(i) => i,
                None => {
                    at.children.push((key.clone(), Self::default()));
                    at.children.len() - 1
                }
            };
            // In range: found or just pushed.
            at = &mut at.children[i].1;
        }
        at.whole = true;
        at.children.clear();
    }

    fn add_node(&mut self, node: &Node) {
        match node {
            Node::Const(_) => {}
            Node::Path(keys) => self.add(keys),
            Node::Not(inner) | Node::Negate(inner) | Node::In(inner, ..) => self.add_node(inner),
            Node::And(nodes) | Node::Or(nodes) | Node::Call(_, nodes) => {
                nodes.iter().for_each(|n| self.add_node(n));
            }
            Node::Arithmetic(_, left, right) | Node::Compare(_, left, right) => {
                self.add_node(left);
                self.add_node(right);
            }
        }
    }

    fn child(&self, key: &[u8]) -> Option<&Self> {
        self.children
            .iter()
            .find(|(k, _)| k.as_bytes() == key)
            .map(|(_, needs)| needs)
    }
}

/// Parses `text` keeping only what `needs` names; the rest is checked and skipped.
pub(crate) fn read_sparse(text: &[u8], needs: &Needs) -> Result<Value, ScanError> {
    let mut scanner = Scanner::new(text);
    let value = value(&mut scanner, needs)?;
    scanner.end()?;
    Ok(value)
}

/// The value at the scanner, as much of it as `needs` names.
fn value(scanner: &mut Scanner<'_>, needs: &Needs) -> Result<Value, ScanError> {
    if needs.whole {
        let start = scanner.peek().map(|_| scanner.offset());
        scanner.skip_value()?;
        let bytes = scanner.since(start.unwrap_or_default());
        return serde_json::from_slice(bytes).map_err(|_| ScanError {
            offset: start.unwrap_or_default(),
            reason: "invalid JSON value",
        });
    }
    if scanner.peek() != Some(b'{') {
        scanner.skip_value()?;
        return Ok(Value::Null);
    }
    object(scanner, needs)
}

/// The members of the object at the scanner that `needs` names.
fn object(scanner: &mut Scanner<'_>, needs: &Needs) -> Result<Value, ScanError> {
    scanner.expect(b'{', "expected an object")?;
    scanner.enter()?;
    let mut out = Map::new();
    if scanner.peek() == Some(b'}') {
        scanner.expect(b'}', "expected `}`")?;
        scanner.leave();
        return Ok(Value::Object(out));
    }
    loop {
        if scanner.peek() != Some(b'"') {
            return Err(scanner.error("expected a member name"));
        }
        let at = scanner.offset();
        let raw = scanner.string()?;
        scanner.expect(b':', "expected `:` after a member name")?;
        match wanted(raw, needs, at)? {
            Some((name, child)) => {
                let value = value(scanner, child)?;
                out.insert(name.into_owned(), value);
            }
            None => scanner.skip_value()?,
        }
        match scanner.peek() {
            Some(b',') => scanner.expect(b',', "expected `,`")?,
            Some(b'}') => {
                scanner.expect(b'}', "expected `}`")?;
                scanner.leave();
                return Ok(Value::Object(out));
            }
            _ => return Err(scanner.error("expected `,` or `}`")),
        }
    }
}

/// The name of a member and what is read below it, when `needs` reads the member. Most names
/// are plain: they are matched as bytes and decoded only when the member is read.
fn wanted<'t, 'n>(
    raw: RawString<'t>,
    needs: &'n Needs,
    at: usize,
) -> Result<Option<(Cow<'t, str>, &'n Needs)>, ScanError> {
    let invalid = || ScanError {
        offset: at,
        reason: "invalid member name",
    };
    if raw.escaped {
        let name = key(raw).ok_or_else(invalid)?;
        return Ok(needs.child(name.as_bytes()).map(|child| (name, child)));
    }
    match needs.child(raw.inner) {
        Some(child) => Ok(Some((key(raw).ok_or_else(invalid)?, child))),
        None => Ok(None),
    }
}

/// A member name, its escapes decoded (the text is known to be valid UTF-8 with valid escapes).
fn key(raw: RawString<'_>) -> Option<Cow<'_, str>> {
    if raw.escaped {
        let mut quoted = Vec::with_capacity(raw.inner.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(raw.inner);
        quoted.push(b'"');
        serde_json::from_slice::<String>(&quoted)
            .ok()
            .map(Cow::Owned)
    } else {
        std::str::from_utf8(raw.inner).ok().map(Cow::Borrowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Query;
    use serde_json::json;

    fn sparse(query: &str, doc: &Value) -> Value {
        let query = Query::parse(query).unwrap();
        read_sparse(doc.to_string().as_bytes(), query.needs()).unwrap()
    }

    #[test]
    fn keeps_only_what_the_query_reads() {
        let doc = json!({
            "deviceId": "d1",
            "tags": {"location": {"region": "US", "plant": "p"}, "x": [1, 2]},
            "properties": {"reported": {"a": {"b": 1}, "$metadata": {"a": {}}}},
        });
        assert_eq!(
            sparse(
                "SELECT * FROM devices WHERE tags.location.region = 'US'",
                &doc
            ),
            json!({"tags": {"location": {"region": "US"}}})
        );
        assert_eq!(
            sparse(
                "SELECT DeviceId, properties.reported.a FROM devices WHERE tags.x.y = 1",
                &doc
            ),
            json!({"deviceId": "d1", "tags": {"x": null}, "properties": {"reported": {"a": {"b": 1}}}})
        );
        assert_eq!(
            sparse(
                "SELECT tags.location, COUNT() AS n FROM devices GROUP BY tags.location",
                &doc
            ),
            json!({"tags": {"location": {"region": "US", "plant": "p"}}})
        );
        assert!(
            Query::parse("SELECT * FROM devices")
                .unwrap()
                .needs()
                .is_empty()
        );
    }

    #[test]
    fn refuses_malformed_text() {
        let query = Query::parse("SELECT * FROM devices WHERE a = 1").unwrap();
        for bad in [
            &b"{"[..],
            b"{\"b\": [1,}",
            b"{\"a\": 1} x",
            b"",
            b"{\"b\": tru}",
        ] {
            assert!(read_sparse(bad, query.needs()).is_err(), "{bad:?}");
        }
        assert_eq!(
            read_sparse(b" [1, {\"a\": 2}] ", query.needs()).unwrap(),
            Value::Null
        );
    }
}
