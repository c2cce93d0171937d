//! [`JobQuery`]: the jobs of the hub by type and status (`GET /jobs/v2/query`, PROTOCOL 8.1),
//! page by page.

use std::sync::Arc;

use iot_protocol::{JobResponse, JobStatus, JobType};
use iot_twin::query::ItemType;
use serde::Serialize;

use crate::query::{Expected, PageFuture, PageSource, RawPage};
use crate::request::{Method, Request, Segment, path};
use crate::response::header;
use crate::{QueryItems, QueryPages, ServiceClient};

/// A query of jobs, from [`ServiceClient::query_jobs`]: narrow it by type and status, then
/// read it page by page ([`Self::pages`]) or job by job ([`Self::items`]).
///
/// Each page is one `GET /jobs/v2/query` with `x-ms-max-item-count` and, after the first,
/// `x-ms-continuation`; it is a read and is retried like every idempotent request.
///
/// ```no_run
/// # async fn run(client: iot_service_sdk::ServiceClient) -> Result<(), iot_service_sdk::ServiceError> {
/// use iot_protocol::{JobStatus, JobType};
///
/// let mut running = client
///     .query_jobs()
///     .job_type(JobType::ScheduleDeviceMethod)
///     .status(JobStatus::Running)
///     .items();
/// while let Some(job) = running.next().await {
///     let job = job?;
///     println!("{} {:?}", job.job_id, job.device_job_statistics);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a query runs when its pages or items are read"]
pub struct JobQuery {
    client: ServiceClient,
    job_type: Option<JobType>,
    status: Option<JobStatus>,
    page_size: Option<u32>,
}

impl JobQuery {
    /// Only jobs of `job_type`.
    pub fn job_type(mut self, job_type: JobType) -> Self {
        self.job_type = Some(job_type);
        self
    }

    /// Only jobs in `status`.
    pub fn status(mut self, status: JobStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Asks for pages of up to `size` jobs; `0` leaves the size to the hub.
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = (size > 0).then_some(size);
        self
    }

    /// The jobs page by page.
    pub fn pages(self) -> QueryPages<JobResponse> {
        let expected = Expected(Some(ItemType::JobResponse.as_str()));
        QueryPages::new(Arc::new(self), None, expected)
    }

    /// The jobs one by one.
    pub fn items(self) -> QueryItems<JobResponse> {
        QueryItems::new(self.pages())
    }

    /// The request for the page at `continuation`.
    fn request(&self, continuation: Option<String>) -> Request {
        let mut request = Request::new(
            Method::Get,
            path(&[
                Segment::Literal("jobs"),
                Segment::Literal("v2"),
                Segment::Literal("query"),
            ]),
        );
        if let Some(job_type) = self.job_type.and_then(wire_name) {
            request = request.param("jobType", job_type);
        }
        if let Some(status) = self.status.and_then(wire_name) {
            request = request.param("jobStatus", status);
        }
        if let Some(size) = self.page_size {
            request = request.header(header::MAX_ITEM_COUNT, size.to_string());
        }
        if let Some(token) = continuation {
            request = request.header(header::CONTINUATION, token);
        }
        request
    }
}

impl PageSource for JobQuery {
    fn fetch(&self, continuation: Option<String>) -> PageFuture {
        let client = self.client.clone();
        let request = self.request(continuation);
        Box::pin(async move { Ok(RawPage::from_response(client.execute(request).await?)) })
    }
}

/// The wire spelling of an enum value (`scheduleDeviceMethod`, `running`).
fn wire_name(value: impl Serialize) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Some(name),
        _ => None,
    }
}

impl ServiceClient {
    /// A query of the hub's jobs (see [`JobQuery`]); every job until narrowed.
    pub fn query_jobs(&self) -> JobQuery {
        JobQuery {
            client: self.clone(),
            job_type: None,
            status: None,
            page_size: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServiceClient;

    fn client() -> ServiceClient {
        ServiceClient::builder(
            "HostName=h.azure-devices.net;SharedAccessKeyName=p;\
             SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .build()
        .unwrap()
    }

    #[test]
    fn filters_become_parameters_in_wire_spelling() {
        let query = client()
            .query_jobs()
            .job_type(JobType::ScheduleUpdateTwin)
            .status(JobStatus::Cancelled)
            .page_size(20);
        let request = query.request(Some("t1".into()));
        assert_eq!(
            request.url("http://h"),
            "http://h/jobs/v2/query?api-version=2021-04-12\
             &jobType=scheduleUpdateTwin&jobStatus=cancelled"
        );
        assert!(
            request
                .headers
                .contains(&(header::MAX_ITEM_COUNT, "20".to_owned()))
        );
        assert!(
            request
                .headers
                .contains(&(header::CONTINUATION, "t1".to_owned()))
        );
        let plain = client().query_jobs().page_size(0).request(None);
        assert_eq!(plain.query, Vec::new());
        assert!(plain.headers.is_empty());
    }
}
