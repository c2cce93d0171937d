//! Property tests: the parser never panics; printing a tree and parsing it gives the tree back;
//! conditions agree with the reference; counts, groups and pages agree with filtering.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::reference::{Cond, Op, Term};
use crate::query::ast::{
    Aggregate, ArithmeticOp, Collection, CompareOp, Constant, Expr, Function, Number, Projection,
    SelectItem, SelectValue, Statement,
};
use crate::query::{Condition, MAX_TOP, Name, PropertyPath, Query};

// ---- Parser robustness -------------------------------------------------------------------

/// Pieces of the grammar, to build token soups from.
const TOKENS: [&str; 48] = [
    "SELECT",
    "TOP",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "NIN",
    "true",
    "null",
    "undefined",
    "devices",
    "devices.jobs",
    "devices.modules",
    "COUNT()",
    "AVG",
    "IS_DEFINED",
    "STARTSWITH",
    "SUBSTRING",
    "*",
    ",",
    "(",
    ")",
    "[",
    "]",
    "[[a-b]]",
    ".",
    "=",
    "<>",
    "!=",
    "<=",
    ">",
    "+",
    "-",
    "/",
    "%",
    "'s'",
    "\"d\\\"q\"",
    "0x1F",
    "1.5e3",
    "42",
    "tags",
    "$version",
    "'\\u00e9'",
];

fn soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(TOKENS.to_vec());
    let gap = prop::sample::select(vec![" ", "", "\n"]);
    prop::collection::vec((token, gap), 0..40)
        .prop_map(|parts| parts.into_iter().map(|(t, g)| format!("{t}{g}")).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parser_never_panics_on_text(text in "\\PC{0,120}") {
        let _ = Query::parse(&text);
        let _ = Condition::parse(&text);
        let _ = text.parse::<PropertyPath>();
    }

    #[test]
    fn parser_never_panics_on_token_soups(text in soup()) {
        if let Ok(query) = Query::parse(&text) {
            prop_assert_eq!(Query::parse(&query.to_string()).unwrap(), query);
        }
        if let Ok(condition) = Condition::parse(&text) {
            prop_assert_eq!(Condition::parse(&condition.to_string()).unwrap(), condition);
        }
    }
}

// ---- Printing and parsing ----------------------------------------------------------------

fn name() -> impl Strategy<Value = Name> {
    let odd = vec![
        "a", "b", "$version", "deviceId", "select", "NOT", "x-y", "é", "sp ace", "[x", "a]b",
    ];
    prop_oneof![
        prop::sample::select(odd).prop_map(String::from),
        "[a-z$_][a-zA-Z0-9$_]{0,6}",
        "\\PC{1,5}".prop_filter("quotable", |s| !s.contains("]]") && !s.ends_with(']')),
    ]
    .prop_map(|s| Name::try_from(s.as_str()).unwrap())
}

fn path() -> impl Strategy<Value = PropertyPath> {
    prop::collection::vec(name(), 1..4).prop_map(|segments| PropertyPath::new(segments).unwrap())
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        (-1000i64..1000).prop_map(|i| i as f64),
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        Just(1e300),
        Just(0.1),
    ]
    .prop_map(|f| Number::new(f).unwrap())
}

fn constant() -> impl Strategy<Value = Constant> {
    let leaf = prop_oneof![
        Just(Constant::Undefined),
        Just(Constant::Null),
        any::<bool>().prop_map(Constant::Bool),
        number().prop_map(Constant::Number),
        "\\PC{0,6}|[\\\\'\"\n\t]{0,3}".prop_map(Constant::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec(inner, 0..3).prop_map(Constant::Array)
    })
}

fn call(inner: BoxedStrategy<Expr>) -> impl Strategy<Value = Expr> {
    let functions: Vec<Function> = Function::all().collect();
    (
        prop::sample::select(functions),
        prop::collection::vec(inner, 1..4),
    )
        .prop_map(|(function, mut args)| {
            let (min, max, _) = function.arity();
            let wanted = args.len().clamp(min, max.unwrap_or(usize::MAX));
            while args.len() < wanted {
                args.push(args[0].clone());
            }
            args.truncate(wanted);
            Expr::Call(function, args)
        })
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        constant().prop_map(Expr::Constant),
        path().prop_map(Expr::Path),
    ];
    leaf.prop_recursive(5, 40, 4, |inner| {
        let boxed = || inner.clone().prop_map(Box::new);
        let arithmetic = prop::sample::select(vec![
            ArithmeticOp::Add,
            ArithmeticOp::Subtract,
            ArithmeticOp::Multiply,
            ArithmeticOp::Divide,
            ArithmeticOp::Remainder,
        ]);
        let compare = prop::sample::select(vec![
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Lt,
            CompareOp::Le,
            CompareOp::Gt,
            CompareOp::Ge,
        ]);
        prop_oneof![
            boxed().prop_map(Expr::Not),
            boxed().prop_map(Expr::Negate),
            (boxed(), boxed()).prop_map(|(a, b)| Expr::And(a, b)),
            (boxed(), boxed()).prop_map(|(a, b)| Expr::Or(a, b)),
            (arithmetic, boxed(), boxed()).prop_map(|(op, a, b)| Expr::Arithmetic(op, a, b)),
            (compare, boxed(), boxed()).prop_map(|(op, a, b)| Expr::Compare(op, a, b)),
            (
                boxed(),
                prop::collection::vec(constant(), 0..3),
                any::<bool>()
            )
                .prop_map(|(value, list, negated)| Expr::In {
                    value,
                    list,
                    negated
                }),
            call(inner.clone().boxed()),
        ]
    })
}

fn alias(i: usize) -> Option<Name> {
    Some(Name::try_from(format!("c{i}").as_str()).unwrap())
}

fn projection() -> impl Strategy<Value = (Projection, Option<PropertyPath>)> {
    let columns = prop::collection::vec(path(), 1..4).prop_map(|paths| {
        let items = paths
            .into_iter()
            .enumerate()
            .map(|(i, p)| SelectItem {
                value: SelectValue::Path(p),
                alias: alias(i),
            })
            .collect();
        (Projection::Items(items), None)
    });
    let aggregate = prop::sample::select(vec![
        Aggregate::Avg,
        Aggregate::Sum,
        Aggregate::Min,
        Aggregate::Max,
    ]);
    let grouped = (path(), aggregate, path()).prop_map(|(group, aggregate, of)| {
        let items = vec![
            SelectItem {
                value: SelectValue::Path(group.clone()),
                alias: alias(0),
            },
            SelectItem {
                value: SelectValue::Count,
                alias: alias(1),
            },
            SelectItem {
                value: SelectValue::Aggregate(aggregate, of),
                alias: alias(2),
            },
        ];
        (Projection::Items(items), Some(group))
    });
    prop_oneof![Just((Projection::All, None)), columns, grouped]
}

fn statement() -> impl Strategy<Value = Statement> {
    let from = prop::sample::select(vec![Collection::Devices, Collection::Modules]);
    let top = prop::option::of(prop_oneof![0u32..10, Just(MAX_TOP)]);
    (top, projection(), from, prop::option::of(expr())).prop_map(
        |(top, (projection, group_by), from, filter)| Statement {
            top,
            projection,
            from,
            filter,
            group_by,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn printed_statements_parse_to_the_same_tree(statement in statement()) {
        let text = statement.to_string();
        let parsed = Query::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed.statement(), &statement, "{}", text);
    }

    #[test]
    fn printed_conditions_parse_to_the_same_tree(filter in expr()) {
        let text = filter.to_string();
        let parsed = Condition::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed.filter(), Some(&filter), "{}", text);
    }
}

// ---- Agreement with the reference --------------------------------------------------------

const KEYS: [&str; 3] = ["a", "b", "c"];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..4).prop_map(Value::from),
        Just(json!(1.5)),
        prop::sample::select(vec!["x", "y", "X", "xy", ""]).prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        Just(json!([1, "x"])),
    ]
}

fn document() -> impl Strategy<Value = Value> {
    let value = scalar().prop_recursive(2, 12, 3, |inner| {
        prop::collection::btree_map(prop::sample::select(KEYS.to_vec()), inner, 0..3)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
    });
    let members = prop::collection::btree_map(prop::sample::select(KEYS.to_vec()), value, 0..4);
    (members, prop::sample::select(vec!["x", "d1", "y"])).prop_map(|(members, id)| {
        let mut doc: Map<String, Value> = members
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        doc.insert("deviceId".into(), Value::from(id));
        Value::Object(doc)
    })
}

fn keys() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(KEYS.to_vec()).prop_map(String::from), 1..3),
        1 => prop::sample::select(vec!["deviceId", "DEVICEID"]).prop_map(|k| vec![k.to_owned()]),
    ]
}

fn term() -> impl Strategy<Value = Term> {
    prop_oneof![
        4 => keys().prop_map(Term::Path),
        2 => prop::sample::select(vec!["x", "y", "X", "", "x'y"]).prop_map(|s| Term::Str(s.into())),
        2 => (-3i64..4).prop_map(Term::Int),
        1 => any::<bool>().prop_map(Term::Bool),
        1 => Just(Term::Null),
        1 => Just(Term::Undefined),
        1 => (keys(), -2i64..3).prop_map(|(p, n)| Term::Plus(p, n)),
    ]
}

fn cond() -> impl Strategy<Value = Cond> {
    let op = prop::sample::select(vec![Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge]);
    let literal = prop_oneof![
        prop::sample::select(vec!["x", "y", "X"]).prop_map(|s| Term::Str(s.into())),
        (-3i64..4).prop_map(Term::Int),
        any::<bool>().prop_map(Term::Bool),
        Just(Term::Null),
    ];
    let leaf = prop_oneof![
        4 => (op, term(), term()).prop_map(|(op, a, b)| Cond::Compare(op, a, b)),
        2 => (term(), prop::collection::vec(literal, 0..4), any::<bool>())
            .prop_map(|(a, list, negated)| Cond::In(a, list, negated)),
        1 => term().prop_map(Cond::Defined),
        1 => (term(), term()).prop_map(|(a, b)| Cond::StartsWith(a, b)),
    ];
    leaf.prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn filters_agree_with_the_reference(
        cond in cond(),
        docs in prop::collection::vec(document(), 1..6),
    ) {
        let text = format!("SELECT * FROM devices WHERE {}", cond.text());
        let query = Query::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let condition = Condition::parse(&cond.text()).unwrap();
        for doc in &docs {
            let expected = cond.selects(doc);
            prop_assert_eq!(query.matches(doc), expected, "{} on {}", text, doc);
            prop_assert_eq!(condition.matches(doc), expected, "{} on {}", text, doc);
        }
        let expected: Vec<&Value> = docs.iter().filter(|d| cond.selects(d)).collect();
        let rows: Vec<Value> = query.evaluate(&docs).collect();
        prop_assert_eq!(rows.iter().collect::<Vec<_>>(), expected.clone());

        let texts: Vec<String> = docs.iter().map(Value::to_string).collect();
        let from_text: Vec<Value> = query.evaluate_json(&texts).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(from_text, rows);

        let count = Query::parse(&format!("SELECT COUNT() AS n FROM devices WHERE {}", cond.text())).unwrap();
        prop_assert_eq!(count.evaluate(&docs).collect::<Vec<_>>(), vec![json!({"n": expected.len()})]);
        let columns = Query::parse(&format!("SELECT [[a]].[[b]] AS x, deviceId FROM devices WHERE {}", cond.text())).unwrap();
        let from_text: Vec<Value> = columns.evaluate_json(&texts).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(from_text, columns.evaluate(&docs).collect::<Vec<_>>());
    }

    #[test]
    fn groups_partition_the_selected_documents(
        docs in prop::collection::vec(document(), 0..8),
        key in keys(),
    ) {
        let path = key.iter().map(|k| format!("[[{k}]]")).collect::<Vec<_>>().join(".");
        let text = format!("SELECT {path} AS k, COUNT() AS n FROM devices GROUP BY {path}");
        let query = Query::parse(&text).unwrap();
        let rows: Vec<Value> = query.evaluate(&docs).collect();
        let texts = docs.iter().map(|d| d.to_string().into_bytes());
        let from_text: Vec<Value> = query.evaluate_json(texts).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&from_text, &rows);
        let total: u64 = rows.iter().map(|r| r["n"].as_u64().unwrap()).sum();
        prop_assert_eq!(total, docs.len() as u64);
        // Each group's key appears once.
        let keys: Vec<Option<&Value>> = rows.iter().map(|r| r.get("k")).collect();
        for (i, k) in keys.iter().enumerate() {
            prop_assert!(!keys[..i].contains(k), "{:?} twice in {:?}", k, rows);
        }
    }

    #[test]
    fn pages_concatenate_to_all_rows(
        docs in prop::collection::vec(document(), 0..12),
        size in 1usize..5,
        top in prop::option::of(0u32..8),
    ) {
        let top = top.map(|t| format!("TOP {t} ")).unwrap_or_default();
        let query = Query::parse(&format!("SELECT {top}* FROM devices WHERE [[a]] != 0")).unwrap();
        let all: Vec<Value> = query.evaluate(&docs).collect();
        let mut paged = Vec::new();
        let mut offset = Some(0);
        while let Some(at) = offset {
            let page = query.page(&docs, at, size);
            prop_assert!(page.items.len() <= size);
            prop_assert!(page.next.is_none() || page.items.len() == size);
            paged.extend(page.items);
            offset = page.next;
        }
        prop_assert_eq!(paged, all);
    }
}
