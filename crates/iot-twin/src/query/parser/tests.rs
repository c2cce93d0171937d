//! Parser tests: the trees it builds, the errors it gives, and its limits.

use serde_json::json;

use crate::query::ast::{
    Aggregate, ArithmeticOp, Collection, CompareOp, Constant, Expr, Number, Projection, SelectItem,
    SelectValue, Statement,
};
use crate::query::{Condition, MAX_DEPTH, MAX_QUERY_CHARS, Query, QueryError};

fn parse(text: &str) -> Statement {
    Query::parse(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .statement()
        .clone()
}

fn error(text: &str) -> QueryError {
    match Query::parse(text) {
        Ok(query) => panic!("{text} parsed as {query}"),
        Err(e) => e,
    }
}

fn path(text: &str) -> Box<Expr> {
    Box::new(Expr::Path(text.parse().unwrap()))
}

fn string(text: &str) -> Box<Expr> {
    Box::new(Expr::Constant(Constant::String(text.into())))
}

fn number(value: f64) -> Box<Expr> {
    Box::new(Expr::Constant(Constant::Number(
        Number::new(value).unwrap(),
    )))
}

#[test]
fn builds_statements() {
    let statement = parse(
        "select top 5 properties.reported.s as status, count() as n, avg(tags.x) \
         from DEVICES where tags.a = 'x' group by properties.reported.s",
    );
    let expected = Statement {
        top: Some(5),
        projection: Projection::Items(vec![
            SelectItem {
                value: SelectValue::Path("properties.reported.s".parse().unwrap()),
                alias: Some("status".try_into().unwrap()),
            },
            SelectItem {
                value: SelectValue::Count,
                alias: Some("n".try_into().unwrap()),
            },
            SelectItem {
                value: SelectValue::Aggregate(Aggregate::Avg, "tags.x".parse().unwrap()),
                alias: None,
            },
        ]),
        from: Collection::Devices,
        filter: Some(Expr::Compare(CompareOp::Eq, path("tags.a"), string("x"))),
        group_by: Some("properties.reported.s".parse().unwrap()),
    };
    assert_eq!(statement, expected);
    assert_eq!(
        statement.to_string(),
        "SELECT TOP 5 properties.reported.s AS status, COUNT() AS n, AVG(tags.x) FROM devices \
         WHERE tags.a = 'x' GROUP BY properties.reported.s"
    );
    assert_eq!(
        parse("SELECT * FROM devices.Modules").from,
        Collection::Modules
    );
    assert_eq!(
        parse("SELECT * FROM devices . jobs").from,
        Collection::DeviceJobs
    );
}

#[test]
fn precedence_and_associativity() {
    let filter = |text: &str| {
        parse(&format!("SELECT * FROM devices WHERE {text}"))
            .filter
            .unwrap()
    };
    assert_eq!(
        filter("a = 1 OR b = 2 AND NOT c = 3"),
        Expr::Or(
            Box::new(Expr::Compare(CompareOp::Eq, path("a"), number(1.0))),
            Box::new(Expr::And(
                Box::new(Expr::Compare(CompareOp::Eq, path("b"), number(2.0))),
                Box::new(Expr::Not(Box::new(Expr::Compare(
                    CompareOp::Eq,
                    path("c"),
                    number(3.0)
                )))),
            )),
        )
    );
    let sub = |l, r| Box::new(Expr::Arithmetic(ArithmeticOp::Subtract, l, r));
    assert_eq!(
        filter("a - 1 - 2 * -3 <> 0"),
        Expr::Compare(
            CompareOp::Ne,
            sub(
                sub(path("a"), number(1.0)),
                Box::new(Expr::Arithmetic(
                    ArithmeticOp::Multiply,
                    number(2.0),
                    number(-3.0)
                ))
            ),
            number(0.0),
        )
    );
    assert_eq!(
        filter("-(1) = -1"),
        Expr::Compare(
            CompareOp::Eq,
            Box::new(Expr::Negate(number(1.0))),
            number(-1.0)
        )
    );
    assert_eq!(
        filter("x NIN [1, -2, 'a', [true], null, undefined]"),
        Expr::In {
            value: path("x"),
            list: vec![
                Constant::Number(Number::new(1.0).unwrap()),
                Constant::Number(Number::new(-2.0).unwrap()),
                Constant::String("a".into()),
                Constant::Array(vec![Constant::Bool(true)]),
                Constant::Null,
                Constant::Undefined,
            ],
            negated: true,
        }
    );
}

#[test]
fn errors_say_what_was_expected_and_where() {
    let e = error("SELECT FROM devices");
    assert_eq!(
        e.to_string(),
        "expected a property path after SELECT, found `FROM` at 1:8 (byte 7)"
    );
    let cases = [
        (
            "SELECT * FROM",
            "expected devices, devices.modules or devices.jobs after FROM",
        ),
        ("SELECT * FROM devices WHERE", "expected a value"),
        (
            "SELECT * FROM devices WHERE a = 1 = 2",
            "expected WHERE, GROUP BY or the end",
        ),
        (
            "SELECT * FROM devices WHERE a IN 'x'",
            "expected an array constant",
        ),
        (
            "SELECT * FROM devices WHERE (a = 1",
            "expected `)` to close `(`",
        ),
        (
            "SELECT * FROM devices WHERE nope(a)",
            "unknown function `nope`",
        ),
        (
            "SELECT * FROM devices WHERE LOWER(a, b)",
            "LOWER takes 1 argument, found 2",
        ),
        (
            "SELECT * FROM devices WHERE SUBSTRING(a)",
            "SUBSTRING takes 2 or 3 arguments",
        ),
        (
            "SELECT * FROM devices WHERE a = 'x",
            "string literal is not closed",
        ),
        (
            "SELECT TOP -1 * FROM devices",
            "expected a whole number after TOP",
        ),
        (
            "SELECT TOP 1.5 * FROM devices",
            "expected a whole number after TOP",
        ),
        (
            "SELECT TOP 9999999999 * FROM devices",
            "TOP takes a whole number from 0",
        ),
        ("SELECT * FROM devices.twins", "expected modules or jobs"),
        ("SELECT a AS FROM devices", "expected a name after AS"),
        ("SELECT LOWER(a) FROM devices", "not other functions"),
        ("SELECT * FROM devices\nWHERE a = #", "at 2:11"),
    ];
    for (text, message) in cases {
        let e = error(text).to_string();
        assert!(e.contains(message), "{text}: {e}");
    }
}

#[test]
fn rules_beyond_the_grammar() {
    let cases = [
        (
            "SELECT deviceId FROM devices.jobs",
            "devices.jobs queries take only SELECT *",
        ),
        (
            "SELECT * FROM devices.jobs GROUP BY status",
            "devices.jobs queries take only SELECT *",
        ),
        (
            "SELECT * FROM devices GROUP BY status",
            "GROUP BY needs a list of columns",
        ),
        (
            "SELECT deviceId, COUNT() FROM devices",
            "column `deviceId` must be the GROUP BY path",
        ),
        (
            "SELECT tags.a, COUNT() FROM devices GROUP BY tags.b",
            "column `tags.a` must be",
        ),
        (
            "SELECT tags.a.x, tags.b.x FROM devices",
            "two columns are named `x`",
        ),
        (
            "SELECT COUNT() AS n, SUM(a) AS n FROM devices",
            "two columns are named `n`",
        ),
    ];
    for (text, message) in cases {
        let e = error(text);
        assert!(matches!(e, QueryError::Unsupported { .. }), "{text}: {e:?}");
        assert!(e.to_string().contains(message), "{text}: {e}");
    }
    // The GROUP BY path is matched after resolving letter case of top-level fields.
    parse("SELECT Status, COUNT() AS n FROM devices GROUP BY status");
    parse("SELECT tags.a.x, tags.b.x AS y FROM devices");
    parse("SELECT tags.a FROM devices GROUP BY tags.a");
}

#[test]
fn keywords_in_any_case_and_as_member_names() {
    let statement =
        parse("sElEcT * FrOm devices wHeRe tags.select = TRUE aNd tags.[[from]] = NULL");
    assert_eq!(
        statement.to_string(),
        "SELECT * FROM devices WHERE tags.select = true AND tags.from = null"
    );
    let quoted = parse("SELECT [[top]] FROM devices");
    assert_eq!(quoted.to_string(), "SELECT [[top]] FROM devices");
    assert!(Query::parse("SELECT top FROM devices").is_err());
}

#[test]
fn limits() {
    let long = format!(
        "SELECT * FROM devices WHERE deviceId = '{}'",
        "x".repeat(MAX_QUERY_CHARS)
    );
    assert!(matches!(
        error(&long),
        QueryError::TooLong { limit: 8192, .. }
    ));
    let fits = format!("SELECT * FROM devices WHERE a = '{}'", "é".repeat(8000));
    assert!(
        Query::parse(&fits).is_ok(),
        "the limit counts characters, not bytes"
    );

    let parens = format!(
        "SELECT * FROM devices WHERE {}a{}",
        "(".repeat(4000),
        ")".repeat(4000)
    );
    assert!(matches!(
        error(&parens),
        QueryError::TooDeep {
            limit: MAX_DEPTH,
            ..
        }
    ));
    let nots = format!("SELECT * FROM devices WHERE {}a", "NOT ".repeat(2000));
    assert!(matches!(error(&nots), QueryError::TooDeep { .. }));
    let minus = format!("SELECT * FROM devices WHERE {}a = 1", "-".repeat(8000));
    assert!(matches!(error(&minus), QueryError::TooDeep { .. }));
    let sum = format!("SELECT * FROM devices WHERE a = 1{}", "+1".repeat(4000));
    assert!(matches!(error(&sum), QueryError::TooDeep { .. }));
    let arrays = format!(
        "SELECT * FROM devices WHERE a IN {}1{}",
        "[ ".repeat(2000),
        "]".repeat(2000)
    );
    assert!(matches!(error(&arrays), QueryError::TooDeep { .. }));
    let calls = format!(
        "SELECT * FROM devices WHERE {}a{}",
        "LOWER(".repeat(1000),
        ")".repeat(1000)
    );
    assert!(matches!(error(&calls), QueryError::TooDeep { .. }));
    let nested = format!(
        "SELECT * FROM devices WHERE {}a = 1{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert!(Query::parse(&nested).is_ok());
}

#[test]
fn long_chains_of_alternatives_stay_shallow() {
    let alternatives: Vec<String> = (0..650).map(|i| format!("a = {i}")).collect();
    let text = format!("SELECT * FROM devices WHERE {}", alternatives.join(" OR "));
    assert!(text.chars().count() <= MAX_QUERY_CHARS);
    let query = Query::parse(&text).unwrap();
    assert_eq!(Query::parse(&query.to_string()).unwrap(), query);
    assert!(query.matches(&json!({"a": 649})));
    assert!(!query.matches(&json!({"a": 650})));
    let condition = Condition::parse(&alternatives.join(" AND ")).unwrap();
    assert!(!condition.matches(&json!({"a": 0})));
}
