//! The text of a job's `queryCondition` or a configuration's `targetCondition` from a
//! [`Filter`]: a `WHERE` condition over device twins, or `*` for every device.

use iot_twin::query::{Collection, Condition, Constant, Expr};

use crate::{Filter, ServiceError};

/// The condition text to send for `filter`, checked as IoT Hub checks job and configuration
/// conditions ([`Condition::parse`]).
///
/// A filter that always holds (`*`, or `true`) is sent as `*`, the spelling IoT Hub documents
/// for "every device".
///
/// # Errors
/// [`ServiceError::InvalidQuery`] for a condition that does not parse,
/// [`ServiceError::OutOfRange`] for one that names a collection other than `devices`.
pub(crate) fn condition_text(filter: Filter) -> Result<String, ServiceError> {
    let expr = filter.into_expr()?;
    let text = match expr {
        Expr::Constant(Constant::Bool(true)) => "*".to_owned(),
        other => other.to_string(),
    };
    check_condition_text(&text)?;
    Ok(text)
}

/// Checks condition text received or given as text: it must parse and select devices.
pub(crate) fn check_condition_text(text: &str) -> Result<Condition, ServiceError> {
    let condition = Condition::parse(text)?;
    if condition.collection() != Collection::Devices {
        return Err(ServiceError::out_of_range(
            "condition",
            format!("`{text}` must select devices"),
        ));
    }
    Ok(condition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field;

    #[test]
    fn every_device_is_a_star() {
        assert_eq!(condition_text(Filter::text("*")).unwrap(), "*");
        assert_eq!(condition_text("true".into()).unwrap(), "*");
    }

    #[test]
    fn conditions_print_as_query_text() {
        let filter = field("deviceId").is_in(["d1", "d2"]);
        assert_eq!(condition_text(filter).unwrap(), "deviceId IN ['d1', 'd2']");
        let filter = Filter::text("tags.devicetype = 'chiller'").and(field("tags.floor").gt(2));
        let text = condition_text(filter).unwrap();
        assert!(
            Condition::parse(&text)
                .unwrap()
                .matches(&serde_json::json!({
                    "tags": {"devicetype": "chiller", "floor": 3}
                }))
        );
    }

    #[test]
    fn bad_conditions_are_refused() {
        assert!(matches!(
            condition_text(Filter::text("tags.a =")),
            Err(ServiceError::InvalidQuery(_))
        ));
        assert!(matches!(
            check_condition_text("FROM devices.modules WHERE moduleId = 'm'"),
            Err(ServiceError::OutOfRange { .. })
        ));
        assert!(check_condition_text("*").unwrap().is_all());
    }
}
