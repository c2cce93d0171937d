//! Reading only what a query looks at from JSON text.
//!
//! [`Needs`] is the tree of keys a plan reads (from its condition, columns, grouping and
//! aggregates). [`read_sparse`] parses JSON text into a [`Value`] that holds those members and
//! nothing else: other members are checked for well-formedness and skipped without being built.
//! Evaluating a plan over the sparse value gives the same result as over the whole document,
//! since every path the plan walks is either there in full or missing in both. A non-object met
//! where the tree goes deeper stands as `null`: paths through it are missing either way.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::compile::{Keys, Measure, Output, Plan};
use super::eval::Node;

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

    fn child(&self, key: &str) -> Option<&Self> {
        self.children
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, needs)| needs)
    }
}

/// Parses `text` keeping only what `needs` names.
pub(crate) fn read_sparse(text: &[u8], needs: &Needs) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let value = Sparse(needs).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Deserializes the members `needs` names.
struct Sparse<'n>(&'n Needs);

impl<'de> DeserializeSeed<'de> for Sparse<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.0.whole {
            serde::Deserialize::deserialize(deserializer)
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Sparse<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(found) = map.next_key_seed(Key(self.0))? {
            match found {
                Some((key, needs)) => {
                    let value = map.next_value_seed(Sparse(needs))?;
                    out.insert(key, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// Reads a member name: the name and what is read below it when the member is needed.
struct Key<'n>(&'n Needs);

impl<'de, 'n> DeserializeSeed<'de> for Key<'n> {
    type Value = Option<(String, &'n Needs)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'n> Visitor<'_> for Key<'n> {
    type Value = Option<(String, &'n Needs)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.child(key).map(|needs| (key.to_owned(), needs)))
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
