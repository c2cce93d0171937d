"""The telemetry, cloud-to-device, query, job and configuration steps of the official
service SDK's scenario (PROTOCOL 5, 8, 9, 10), and what both halves of service_driver.py share.
"""

import datetime

from azure.iot.hub.models import (
    CloudToDeviceMethod,
    Configuration,
    ConfigurationContent,
    JobRequest,
    QuerySpecification,
    Twin,
    TwinProperties,
)
from msrest.exceptions import HttpOperationError

from common import StepFailed, check, wait_until

# How long a device-side wait may take (desired updates, method calls, messages).
DEVICE_WAIT = 20
# How long a job or a configuration may take to reach the device.
JOB_WAIT = 60
# Property values with the characters property bags must encode (PROTOCOL 5).
AWKWARD = "a/b c&d=e%f"


# Reported patches the hub must refuse (PROTOCOL 7): a `$` key, and over 32 KB in all.
INVALID_KEY_PATCH = {"$bad": 1}
OVERSIZE_PATCH = {f"big{n}": "x" * 3900 for n in range(9)}
REJECTED_KEYS = ["$bad"] + list(OVERSIZE_PATCH)


def telemetry_properties(pair):
    return {"scenario": pair, "path": AWKWARD}


def c2d_message(pair):
    """The cloud-to-device message the back end sends and the device must receive."""
    return {
        "body": "reboot at noon",
        "properties": {"kind": "notice", "path": AWKWARD},
        "messageId": f"{pair}-c2d-1",
        "correlationId": f"{pair}-correlation",
        "contentType": "text/plain",
    }


def status_of(error):
    """The HTTP status of a failed service call, or None."""
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def expect_status(call, status, what):
    """Runs `call`, which must fail with HTTP `status`; returns the error's response."""
    try:
        call()
    except HttpOperationError as error:
        check(status_of(error) == status, f"{what}: status {status_of(error)}, not {status}")
        return error.response
    raise StepFailed(f"{what} succeeded; expected status {status}")


class FleetSteps:
    """The steps beyond one device's twin and methods; mixed into the scenario, whose
    attributes they use (`registry`, `jobs`, `configurations`, `hub`, `pair`, `device_id`,
    `temporary`)."""

    # Telemetry and cloud-to-device messages (PROTOCOL 5), through the control port.

    def telemetry_received(self):
        def arrived():
            for message in self.hub.telemetry(self.device_id):
                if message["messageId"] == f"{self.pair}-telemetry-1":
                    return message
            return None

        message = wait_until(arrived, DEVICE_WAIT, "the hub did not receive the telemetry")
        check(message["body"] == '{"temperature": 21.5}', f"body {message['body']}")
        check(message["properties"] == telemetry_properties(self.pair), f"{message['properties']}")
        check(message["contentType"] == "application/json", f"type {message['contentType']}")

    def c2d_send(self):
        self.hub.send_c2d(self.device_id, c2d_message(self.pair))

    # Queries (PROTOCOL 8).

    def query_paging(self):
        for n in range(3):
            device = self.registry.create_device_with_sas(f"{self.pair}-q{n}", "", "", "enabled")
            self.temporary.append(device.device_id)
            self.registry.update_twin(device.device_id, Twin(tags={"interopQuery": self.pair}), "*")
        query = QuerySpecification(
            query=f"SELECT * FROM devices WHERE tags.interopQuery = '{self.pair}'"
        )
        first = self.registry.query_iot_hub(query, None, 2)
        check(len(first.items) == 2, f"first page has {len(first.items)} twins, not 2")
        check(first.continuation_token, "the first page has no continuation")
        check(first.type == "Twin", f"item type {first.type}")
        second = self.registry.query_iot_hub(query, first.continuation_token, 2)
        check(len(second.items) == 1, f"second page has {len(second.items)} twins, not 1")
        check(not second.continuation_token, "the last page has a continuation")
        ids = sorted(twin.device_id for twin in first.items + second.items)
        check(ids == [f"{self.pair}-q{n}" for n in range(3)], f"twins {ids}")

    # Jobs (PROTOCOL 9).

    def run_job(self, job_id, request):
        created = self.jobs.create_scheduled_job(job_id, request)
        check(created.job_id == job_id, f"created job {created.job_id}")
        check(created.status in ("queued", "scheduled", "running", "completed"),
              f"new job status {created.status}")

        def finished():
            job = self.jobs.get_scheduled_job(job_id)
            return job if job.status in ("completed", "failed", "cancelled") else None

        job = wait_until(finished, JOB_WAIT, f"job {job_id} did not finish")
        check(job.status == "completed", f"job status {job.status}: {job.failure_reason}")
        statistics = job.device_job_statistics
        check(statistics.device_count == 1 and statistics.succeeded_count == 1,
              f"statistics {statistics.as_dict()}")

    def job_request(self, job_id, kind, **operation):
        return JobRequest(
            job_id=job_id,
            type=kind,
            query_condition=f"deviceId = '{self.device_id}'",
            start_time=datetime.datetime.now(datetime.timezone.utc),
            max_execution_time_in_seconds=120,
            **operation,
        )

    def jobs_method(self):
        call = CloudToDeviceMethod(
            method_name="jobEcho", payload={"job": self.pair}, response_timeout_in_seconds=10
        )
        job_id = f"{self.pair}-method-job"
        request = self.job_request(job_id, "scheduleDeviceMethod", cloud_to_device_method=call)
        self.run_job(job_id, request)

    def jobs_device_rows(self):
        # The SDK reads query rows as twins, so only a row's deviceId survives.
        job_id = f"{self.pair}-method-job"
        text = f"SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '{job_id}'"
        rows = self.registry.query_iot_hub(QuerySpecification(query=text), None, 100)
        ids = [row.device_id for row in rows.items]
        check(ids == [self.device_id], f"rows of {ids}")
        check(rows.type == "DeviceJob", f"item type {rows.type}")

    def jobs_twin(self):
        patch = Twin(
            etag="*",
            tags={"fromJob": self.pair},
            properties=TwinProperties(desired={"fromJob": self.pair}),
        )
        job_id = f"{self.pair}-twin-job"
        self.run_job(job_id, self.job_request(job_id, "scheduleUpdateTwin", update_twin=patch))
        twin = self.registry.get_twin(self.device_id)
        check(twin.tags.get("fromJob") == self.pair, f"tags after the job {twin.tags}")

    def jobs_cancel(self):
        job_id = f"{self.pair}-cancelled-job"
        request = self.job_request(job_id, "scheduleUpdateTwin", update_twin=Twin(etag="*", tags={"never": True}))
        request.start_time += datetime.timedelta(hours=1)
        created = self.jobs.create_scheduled_job(job_id, request)
        check(created.status in ("queued", "scheduled"), f"new job status {created.status}")
        self.jobs.cancel_scheduled_job(job_id)

        def cancelled():
            return self.jobs.get_scheduled_job(job_id).status == "cancelled"

        wait_until(cancelled, DEVICE_WAIT, f"job {job_id} did not become cancelled")

    # Configurations (PROTOCOL 10).

    def configuration_id(self):
        return f"{self.pair}-config"

    def configurations_create(self):
        configuration = Configuration(
            id=self.configuration_id(),
            schema_version="1.0",
            labels={"suite": "interop"},
            content=ConfigurationContent(
                device_content={"properties.desired.fromConfiguration": {"pair": self.pair}}
            ),
            target_condition=f"tags.interopPair = '{self.pair}'",
            priority=10,
        )
        created = self.configurations.create_configuration(configuration)
        check(created.id == self.configuration_id(), f"created {created.id}")
        check(created.etag, "the configuration has no etag")
        read = self.configurations.get_configuration(self.configuration_id())
        check(read.target_condition == configuration.target_condition, "target condition")

    def configurations_applied(self):
        text = (
            f"SELECT deviceId FROM devices WHERE "
            f"configurations.[[{self.configuration_id()}]].status = 'Applied'"
        )
        query = QuerySpecification(query=text)

        def applied():
            items = self.registry.query_iot_hub(query, None, 100).items
            return any(twin.device_id == self.device_id for twin in items)

        wait_until(applied, JOB_WAIT, "the configuration was not applied to the twin")
        twin = self.registry.get_twin(self.device_id)
        desired = twin.properties.desired.get("fromConfiguration")
        check(desired == {"pair": self.pair}, f"desired fromConfiguration {desired}")

    def configurations_update(self):
        current = self.configurations.get_configuration(self.configuration_id())
        stale = current.etag
        current.priority = 11
        current.labels = {"suite": "interop", "updated": "yes"}
        updated = self.configurations.update_configuration(current, stale)
        check(updated.priority == 11, f"priority after update {updated.priority}")
        check(updated.etag != stale, "the etag did not change")
        again = lambda: self.configurations.update_configuration(current, stale)
        expect_status(again, 412, "updating with a stale etag")
        listed = [c.id for c in self.configurations.get_configurations(100)]
        check(self.configuration_id() in listed, f"not listed in {listed}")

    def configurations_delete(self):
        self.configurations.delete_configuration(self.configuration_id(), "*")
        gone = lambda: self.configurations.get_configuration(self.configuration_id())
        expect_status(gone, 404, "reading the deleted configuration")
