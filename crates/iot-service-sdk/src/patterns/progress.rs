//! [`ProgressQuery`]: how to count an operation's progress with twin queries, and one round of
//! those queries.

use std::time::{Duration, Instant};

use iot_protocol::patterns::{MESSAGE, STATUS, STATUS_ERROR};
use iot_protocol::{DeviceJob, JobId};
use iot_twin::query::{Collection, Constant, Expr};

use super::ProgressStream;
use super::snapshot::{FailureRow, Findings, StatusRow};
use crate::{Filter, Query, ServiceClient, ServiceError, field};

/// How to follow an operation across the fleet with twin queries: which devices it targets,
/// where they report their status (`properties.reported.<section>.status`, with the reason of
/// a failure in `.message`), which statuses mean success or failure, and which reports are
/// about this operation rather than an earlier one.
///
/// Each round counts the targeted devices, counts them per status (`GROUP BY`), lists those
/// that failed, and, for an operation run by a job, adds the devices the job could not reach
/// (its failed `devices.jobs` rows). [`crate::patterns::OperationJob`] and
/// [`crate::patterns::RolloutHandle`] make these for the built-in patterns; make one yourself
/// for statuses of your own.
///
/// ```no_run
/// # async fn run(client: iot_service_sdk::ServiceClient) -> Result<(), iot_service_sdk::ServiceError> {
/// use std::time::{Duration, Instant};
/// use iot_service_sdk::field;
/// use iot_service_sdk::patterns::ProgressQuery;
///
/// let progress = ProgressQuery::new("firmware")
///     .scope(field("tags.ring").eq("canary"))
///     .current(field("properties.reported.firmware.version").eq("2.0"))
///     .succeeded(["current"])
///     .failed(["error", "rolledback"]);
/// let deadline = Instant::now() + Duration::from_secs(600);
/// let last = progress.follow(&client, Duration::from_secs(5), deadline)?.last().await?;
/// println!("{} of {} devices current", last.succeeded, last.targeted);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a progress query does nothing until followed"]
pub struct ProgressQuery {
    section: String,
    scope: Filter,
    current: Option<Filter>,
    succeeded: Vec<String>,
    failed: Vec<String>,
    job: Option<JobId>,
}

impl ProgressQuery {
    /// Progress reported under `properties.reported.<section>` (a dotted path such as
    /// `firmware` or `iothubDM.reboot`), for every device until [`Self::scope`] narrows it,
    /// with status `error` as failure and no status as success until [`Self::succeeded`].
    pub fn new(section: &str) -> Self {
        Self {
            section: section.to_owned(),
            scope: Filter::text("*"),
            current: None,
            succeeded: Vec::new(),
            failed: vec![STATUS_ERROR.to_owned()],
            job: None,
        }
    }

    /// The devices the operation targets.
    pub fn scope(mut self, condition: impl Into<Filter>) -> Self {
        self.scope = condition.into();
        self
    }

    /// Which devices' reports are about this operation; the others count as pending (a
    /// status left from an earlier run is not progress).
    pub fn current(mut self, condition: impl Into<Filter>) -> Self {
        self.current = Some(condition.into());
        self
    }

    /// The statuses that mean a device succeeded.
    pub fn succeeded<S: Into<String>>(mut self, statuses: impl IntoIterator<Item = S>) -> Self {
        self.succeeded = statuses.into_iter().map(Into::into).collect();
        self
    }

    /// The statuses that mean a device failed (`error` unless set).
    pub fn failed<S: Into<String>>(mut self, statuses: impl IntoIterator<Item = S>) -> Self {
        self.failed = statuses.into_iter().map(Into::into).collect();
        self
    }

    /// The job that runs the operation: devices it could not reach count as failed.
    pub fn job(mut self, job_id: JobId) -> Self {
        self.job = Some(job_id);
        self
    }

    /// Follows the operation: a snapshot every `interval` until every targeted device
    /// succeeded or failed, or until `deadline` (see [`ProgressStream`]).
    ///
    /// # Errors
    /// [`ServiceError::InvalidQuery`] or [`ServiceError::OutOfRange`] for a section, scope or
    /// condition the query language refuses, before anything is sent;
    /// [`ServiceError::OutOfRange`] for a zero `interval`.
    pub fn follow(
        &self,
        client: &ServiceClient,
        interval: Duration,
        deadline: Instant,
    ) -> Result<ProgressStream, ServiceError> {
        if interval.is_zero() {
            return Err(ServiceError::out_of_range(
                "interval",
                "must be more than zero",
            ));
        }
        let compiled = self.compile()?;
        Ok(ProgressStream::new(
            client.clone(),
            compiled,
            interval,
            deadline,
        ))
    }

    /// The queries of one round, checked.
    pub(crate) fn compile(&self) -> Result<Compiled, ServiceError> {
        let reported = format!("properties.reported.{}", self.section);
        let status = format!("{reported}.{STATUS}");
        let message = format!("{reported}.{MESSAGE}");
        let scope = always_true_as_none(self.scope.clone().into_expr()?);
        let current = match &self.current {
            Some(filter) => always_true_as_none(filter.clone().into_expr()?),
            None => None,
        };
        let both = and(scope.clone(), current);
        let failing = field(&status).is_in(self.failed.clone()).into_expr()?;
        let failures = and(both.clone(), Some(failing));
        Ok(Compiled {
            targeted: Query::parse(&format!(
                "SELECT COUNT() AS devices FROM devices{}",
                where_clause(scope.as_ref())
            ))?,
            statuses: Query::parse(&format!(
                "SELECT {status} AS status, COUNT() AS devices FROM devices{} GROUP BY {status}",
                where_clause(both.as_ref())
            ))?,
            failures: Query::parse(&format!(
                "SELECT deviceId, {status} AS status, {message} AS message FROM devices{}",
                where_clause(failures.as_ref())
            ))?,
            failed_jobs: self.job.as_ref().map(failed_jobs).transpose()?,
            succeeded: self.succeeded.clone(),
            failed: self.failed.clone(),
        })
    }
}

/// The checked queries of one round and the statuses that end it.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub(crate) targeted: Query,
    pub(crate) statuses: Query,
    pub(crate) failures: Query,
    pub(crate) failed_jobs: Option<Query>,
    pub(crate) succeeded: Vec<String>,
    pub(crate) failed: Vec<String>,
}

impl Compiled {
    /// Runs one round of queries.
    pub(crate) async fn run(&self, client: &ServiceClient) -> Result<Findings, ServiceError> {
        #[derive(serde::Deserialize)]
        struct Count {
            #[serde(default)]
            devices: u64,
        }
        let counts: Vec<Count> = client
            .query(&self.targeted)?
            .items_as()
            .collect_all()
            .await?;
        let statuses: Vec<StatusRow> = client
            .query(&self.statuses)?
            .items_as()
            .collect_all()
            .await?;
        let any_failed = statuses.iter().any(|row| {
            row.status
                .as_ref()
                .and_then(|s| s.as_str())
                .is_some_and(|s| self.failed.iter().any(|f| f == s))
        });
        let failures: Vec<FailureRow> = if any_failed {
            client
                .query(&self.failures)?
                .items_as()
                .collect_all()
                .await?
        } else {
            Vec::new()
        };
        let failed_jobs: Vec<DeviceJob> = match &self.failed_jobs {
            Some(query) => client.query_device_jobs(query)?.collect_all().await?,
            None => Vec::new(),
        };
        Ok(Findings {
            targeted: counts.iter().map(|c| c.devices).sum(),
            statuses,
            failures,
            failed_jobs,
        })
    }
}

fn failed_jobs(job_id: &JobId) -> Result<Query, ServiceError> {
    Query::select_all()
        .from(Collection::DeviceJobs)
        .where_(field("devices.jobs.jobId").eq(job_id.as_str()))
        .where_(field("devices.jobs.status").eq("failed"))
        .build()
}

/// `None` for a condition that always holds, so that queries leave out their `WHERE`.
fn always_true_as_none(expr: Expr) -> Option<Expr> {
    match expr {
        Expr::Constant(Constant::Bool(true)) => None,
        other => Some(other),
    }
}

fn and(a: Option<Expr>, b: Option<Expr>) -> Option<Expr> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Expr::And(Box::new(a), Box::new(b))),
        (a, b) => a.or(b),
    }
}

fn where_clause(condition: Option<&Expr>) -> String {
    condition.map(|c| format!(" WHERE {c}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::snapshot::assemble;
    use serde_json::{Value, json};

    /// Twins as the hub stores them, enough for the queries.
    fn twin(id: &str, ring: &str, desired_version: u64, reported: &Value) -> Value {
        json!({
            "deviceId": id,
            "tags": {"ring": ring},
            "configurations": {"fw": {"status": "Applied"}},
            "properties": {
                "desired": {"$version": desired_version},
                "reported": reported,
            }
        })
    }

    fn fleet() -> Vec<Value> {
        vec![
            twin(
                "a",
                "canary",
                3,
                &json!({"firmware": {"status": "applied", "desiredVersion": 3}}),
            ),
            twin(
                "b",
                "canary",
                3,
                &json!({"firmware": {"status": "applied", "desiredVersion": 2}}),
            ),
            twin(
                "c",
                "canary",
                4,
                &json!({"firmware": {"status": "error", "desiredVersion": 4, "message": "no space"}}),
            ),
            twin("d", "canary", 4, &json!({})),
            twin(
                "e",
                "main",
                3,
                &json!({"firmware": {"status": "applied", "desiredVersion": 3}}),
            ),
        ]
    }

    fn rows(query: &Query, twins: &[Value]) -> Vec<Value> {
        query.parsed().evaluate(twins.iter()).collect()
    }

    #[test]
    fn rounds_count_only_current_reports_in_scope() {
        let progress = ProgressQuery::new("firmware")
            .scope(field("tags.ring").eq("canary"))
            .current("properties.reported.firmware.desiredVersion = properties.desired.$version")
            .succeeded(["applied"]);
        let compiled = progress.compile().unwrap();
        let twins = fleet();
        let targeted: Vec<Value> = rows(&compiled.targeted, &twins);
        let findings = Findings {
            targeted: targeted[0]["devices"].as_u64().unwrap(),
            statuses: serde_json::from_value(Value::Array(rows(&compiled.statuses, &twins)))
                .unwrap(),
            failures: serde_json::from_value(Value::Array(rows(&compiled.failures, &twins)))
                .unwrap(),
            failed_jobs: Vec::new(),
        };
        let snapshot = assemble(
            findings,
            &compiled.succeeded,
            &compiled.failed,
            Duration::ZERO,
        );
        assert_eq!(
            (
                snapshot.targeted,
                snapshot.succeeded,
                snapshot.failed,
                snapshot.pending
            ),
            (4, 1, 1, 2)
        );
        assert_eq!(snapshot.failures.len(), 1);
        assert_eq!(
            (
                snapshot.failures[0].device_id.as_str(),
                snapshot.failures[0].message.as_deref()
            ),
            ("c", Some("no space"))
        );
    }

    #[test]
    fn every_device_leaves_out_the_where_clause() {
        let compiled = ProgressQuery::new("iothubDM.reboot")
            .job("j1".parse().unwrap())
            .compile()
            .unwrap();
        assert_eq!(
            compiled.targeted.as_str(),
            "SELECT COUNT() AS devices FROM devices"
        );
        assert_eq!(
            compiled.statuses.as_str(),
            "SELECT properties.reported.iothubDM.reboot.status AS status, COUNT() AS devices \
             FROM devices GROUP BY properties.reported.iothubDM.reboot.status"
        );
        assert_eq!(
            compiled.failed_jobs.unwrap().as_str(),
            "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'j1' \
             AND devices.jobs.status = 'failed'"
        );
    }

    #[test]
    fn bad_sections_and_conditions_are_refused() {
        assert!(ProgressQuery::new("a b").compile().is_err());
        assert!(
            ProgressQuery::new("fw")
                .scope("tags.a =")
                .compile()
                .is_err()
        );
        assert!(
            ProgressQuery::new("fw")
                .current("tags.a IN")
                .compile()
                .is_err()
        );
    }
}
