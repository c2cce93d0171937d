"""The back-end side of the interop scenarios, played by the official Python service SDK
(azure-iot-hub 2.x), driving a device agent (the official device SDK's or ours).

Prints one result line per step. Steps that need the device ask the agent, which prints the
device's own result lines; telemetry and cloud-to-device messages, which IoT Hub offers back
ends only over AMQP and Event Hubs, go through the suite hub's control port.

usage: service_driver.py --pair NAME --service CS --control URL --device-id ID
                         [--skip jobs,configurations] -- <device agent command>
HTTPS trust comes from REQUESTS_CA_BUNDLE (the hub's development CA).
"""

import argparse
import datetime
import sys
import time

from azure.iot.hub import IoTHubConfigurationManager, IoTHubJobManager, IoTHubRegistryManager
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

from common import (
    DeviceAgent,
    HubControl,
    Reporter,
    StepFailed,
    agent_command,
    check,
    contains,
    wait_until,
)

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


class Scenario:
    """The service steps of one pair, in order; `device` is the agent."""

    def __init__(self, args, reporter, device):
        self.pair = args.pair
        self.device_id = args.device_id
        self.reporter = reporter
        self.device = device
        self.hub = HubControl(args.control)
        self.registry = IoTHubRegistryManager.from_connection_string(args.service)
        self.jobs = IoTHubJobManager.from_connection_string(args.service)
        self.configurations = IoTHubConfigurationManager.from_connection_string(args.service)
        self.skip = set(filter(None, args.skip.split(",")))
        self.temporary = []
        self.etag = None
        self.stale_device_etag = None

    # Identity registry (PROTOCOL 11).

    def registry_create(self):
        device = self.registry.create_device_with_sas(f"{self.pair}-tmp", "", "", "enabled")
        self.temporary.append(device.device_id)
        keys = device.authentication.symmetric_key
        check(keys.primary_key and keys.secondary_key, "the hub generated no keys")
        check(device.etag, "the new device has no etag")
        again = lambda: self.registry.create_device_with_sas(device.device_id, "", "", "enabled")
        expect_status(again, 409, "creating it twice")

    def registry_list(self):
        listed = [device.device_id for device in self.registry.get_devices(1000)]
        check(f"{self.pair}-tmp" in listed, f"the new device is not listed in {listed}")
        statistics = self.registry.get_device_registry_statistics()
        check(statistics.total_device_count >= len(listed), f"{statistics.as_dict()}")
        service = self.registry.get_service_statistics()
        check(isinstance(service.connected_device_count, int), f"{service.as_dict()}")

    def registry_get(self):
        device = self.registry.get_device(f"{self.pair}-tmp")
        check(device.device_id == f"{self.pair}-tmp", f"got device {device.device_id}")
        check(device.status == "enabled", f"status {device.status}")
        check(device.connection_state == "Disconnected", f"state {device.connection_state}")

    def registry_update(self):
        device = self.registry.get_device(f"{self.pair}-tmp")
        keys = device.authentication.symmetric_key
        updated = self.registry.update_device_with_sas(
            device.device_id, device.etag, keys.primary_key, keys.secondary_key, "disabled"
        )
        check(updated.status == "disabled", f"status after update {updated.status}")
        check(updated.etag != device.etag, "the etag did not change")
        stale = lambda: self.registry.update_device_with_sas(
            device.device_id, device.etag, keys.primary_key, keys.secondary_key, "enabled"
        )
        expect_status(stale, 412, "updating with a stale etag")
        self.stale_device_etag = device.etag

    def registry_delete(self):
        device_id = f"{self.pair}-tmp"
        stale = lambda: self.registry.delete_device(device_id, self.stale_device_etag)
        expect_status(stale, 412, "deleting with a stale etag")
        self.registry.delete_device(device_id, self.registry.get_device(device_id).etag)
        self.temporary.remove(f"{self.pair}-tmp")
        gone = lambda: self.registry.get_device(f"{self.pair}-tmp")
        expect_status(gone, 404, "reading the deleted device")

    # Twins (PROTOCOL 6).

    def twin_get(self):
        twin = self.registry.get_twin(self.device_id)
        check(twin.device_id == self.device_id, f"twin of {twin.device_id}")
        check(twin.etag, "the twin has no etag")
        for section in (twin.properties.desired, twin.properties.reported):
            check(isinstance(section.get("$version"), int), "a section has no $version")
        self.etag = twin.etag

    def twin_update(self):
        patch = Twin(
            tags={"interopPair": self.pair},
            properties=TwinProperties(desired={"greeting": f"hello {self.pair}"}),
        )
        twin = self.registry.update_twin(self.device_id, patch, self.etag)
        check(twin.tags.get("interopPair") == self.pair, f"tags {twin.tags}")
        check(twin.properties.desired.get("greeting") == f"hello {self.pair}", "desired unset")
        check(twin.etag != self.etag, "the etag did not change")
        stale = self.etag
        self.etag = twin.etag
        again = lambda: self.registry.update_twin(self.device_id, patch, stale)
        expect_status(again, 412, "updating with a stale etag")

    def twin_replace(self):
        replacement = Twin(
            tags={"interopPair": self.pair},
            properties=TwinProperties(desired={"greeting": f"hello {self.pair}", "mode": "replaced"}),
        )
        twin = self.registry.replace_twin(self.device_id, replacement, self.etag)
        desired = {k: v for k, v in twin.properties.desired.items() if not k.startswith("$")}
        check(desired == replacement.properties.desired, f"desired after replace {desired}")
        check(twin.tags == {"interopPair": self.pair}, f"tags after replace {twin.tags}")
        self.etag = twin.etag

    def twin_reported(self):
        def reported():
            twin = self.registry.get_twin(self.device_id)
            return contains(twin.properties.reported, {"interop": {"pair": self.pair}})

        wait_until(reported, DEVICE_WAIT, "the reported properties did not reach the twin")
        twin = self.registry.get_twin(self.device_id)
        check(twin.connection_state == "Connected", f"connection state {twin.connection_state}")

    def rejected_not_stored(self):
        reported = self.registry.get_twin(self.device_id).properties.reported
        stored = [key for key in REJECTED_KEYS if key in reported]
        check(not stored, f"rejected properties {stored} are in the twin")

    def set_desired(self, desired):
        patch = Twin(properties=TwinProperties(desired=desired))
        twin = self.registry.update_twin(self.device_id, patch, "*")
        removed = [key for key, value in desired.items() if value is None]
        kept = {key: value for key, value in desired.items() if value is not None}
        check(contains(twin.properties.desired, kept), "the patch is not in the twin")
        left = [key for key in removed if key in twin.properties.desired]
        check(not left, f"{left} still in the twin")

    # Direct methods (PROTOCOL 4).

    def methods_invoke(self):
        call = CloudToDeviceMethod(
            method_name="echo", payload={"n": 7}, response_timeout_in_seconds=10
        )
        result = self.registry.invoke_device_method(self.device_id, call)
        check(result.status == 200, f"device status {result.status}")
        expected = {"method": "echo", "echo": {"n": 7}}
        check(result.payload == expected, f"payload {result.payload}")

    def methods_invoke_null(self):
        call = CloudToDeviceMethod(method_name="echo", payload=None, response_timeout_in_seconds=10)
        result = self.registry.invoke_device_method(self.device_id, call)
        check(result.status == 200, f"device status {result.status}")
        # azure-iot-hub 2.7 sends a None payload as "" (invoke_device_method replaces it).
        check(result.payload == {"method": "echo", "echo": ""}, f"payload {result.payload}")

    def methods_not_online(self):
        device = self.registry.create_device_with_sas(f"{self.pair}-offline", "", "", "enabled")
        self.temporary.append(device.device_id)
        call = CloudToDeviceMethod(
            method_name="echo", payload=None, response_timeout_in_seconds=5,
            connect_timeout_in_seconds=0,
        )
        invoke = lambda: self.registry.invoke_device_method(device.device_id, call)
        response = expect_status(invoke, 404, "calling a device that never connected")
        check("404103" in response.text, f"error body {response.text}")

    def methods_unknown_device(self):
        call = CloudToDeviceMethod(method_name="echo", payload=None, response_timeout_in_seconds=5)
        invoke = lambda: self.registry.invoke_device_method(f"{self.pair}-nobody", call)
        response = expect_status(invoke, 404, "calling a device that does not exist")
        check("404001" in response.text, f"error body {response.text}")

    def methods_timeout(self):
        call = CloudToDeviceMethod(
            method_name="slow", payload={"seconds": 8}, response_timeout_in_seconds=5
        )
        invoke = lambda: self.registry.invoke_device_method(self.device_id, call)
        response = expect_status(invoke, 504, "a device answering after the response timeout")
        check("504101" in response.text, f"error body {response.text}")

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

    def cleanup(self):
        """Deletes the devices this scenario created (not a step: best effort)."""
        for device_id in list(self.temporary):
            try:
                self.registry.delete_device(device_id)
            except HttpOperationError:
                pass


def run(scenario, device):
    """The steps of one pair, service and device interleaved."""
    step = scenario.reporter.run
    step("registry.create", scenario.registry_create)
    step("registry.list", scenario.registry_list)
    step("registry.get", scenario.registry_get)
    step("registry.update", scenario.registry_update)
    step("registry.delete", scenario.registry_delete)
    step("twin.get", scenario.twin_get)
    step("twin.update-etag", scenario.twin_update)
    step("twin.replace", scenario.twin_replace)
    device.step("device.connect", "connect")
    device.step("device.get-twin", "get_twin",
                desired={"greeting": f"hello {scenario.pair}", "mode": "replaced"})
    device.step("device.report", "report", patch={"interop": {"pair": scenario.pair}})
    step("twin.reported", scenario.twin_reported)
    device.step("device.report-invalid-key", "report_rejected", patch=INVALID_KEY_PATCH)
    device.step("device.report-too-large", "report_rejected", patch=OVERSIZE_PATCH)
    step("twin.rejected-not-stored", scenario.rejected_not_stored)
    step("twin.desired", scenario.set_desired, {"setpoint": 21})
    device.step("device.desired", "wait_desired", desired={"setpoint": 21}, timeout=DEVICE_WAIT)
    device.step("device.disconnect", "disconnect")
    step("twin.desired-offline", scenario.set_desired, {"setpoint": 22})
    device.step("device.reconnect", "connect")
    device.step("device.desired-after-reconnect", "wait_desired",
                desired={"setpoint": 22}, timeout=DEVICE_WAIT)
    step("twin.desired-remove", scenario.set_desired, {"mode": None})
    device.step("device.desired-removed", "wait_desired_absent", keys=["mode"],
                timeout=DEVICE_WAIT)
    step("methods.invoke", scenario.methods_invoke)
    device.step("device.method", "expect_method", name="echo", payload={"n": 7},
                timeout=DEVICE_WAIT)
    step("methods.invoke-null", scenario.methods_invoke_null)
    step("methods.device-not-online", scenario.methods_not_online)
    step("methods.unknown-device", scenario.methods_unknown_device)
    step("methods.response-timeout", scenario.methods_timeout)
    device.step("device.method-late", "expect_method", name="slow", payload={"seconds": 8},
                timeout=DEVICE_WAIT)
    device.step("device.telemetry", "send_telemetry", body='{"temperature": 21.5}',
                properties=telemetry_properties(scenario.pair),
                messageId=f"{scenario.pair}-telemetry-1")
    step("telemetry.received", scenario.telemetry_received)
    step("c2d.send", scenario.c2d_send)
    device.step("device.c2d", "wait_c2d", timeout=DEVICE_WAIT, **c2d_message(scenario.pair))
    step("query.paging", scenario.query_paging)
    run_jobs(scenario, device)
    run_configurations(scenario, device)


# No step lists jobs (GET /jobs/v2/query): azure-iot-hub 2.7 reads that answer, an array on
# IoT Hub as on ours, as an object and fails (its generated client follows the swagger).
JOB_STEPS = ("jobs.method", "device.method-from-job", "jobs.device-rows", "jobs.twin",
             "device.desired-from-job", "jobs.cancel")


def run_jobs(scenario, device):
    if "jobs" in scenario.skip:
        for name in JOB_STEPS:
            scenario.reporter.skip(name, "the hub has no /jobs/v2 endpoint")
        return
    scenario.reporter.run("jobs.method", scenario.jobs_method)
    device.step("device.method-from-job", "expect_method", name="jobEcho",
                payload={"job": scenario.pair}, timeout=DEVICE_WAIT)
    scenario.reporter.run("jobs.device-rows", scenario.jobs_device_rows)
    scenario.reporter.run("jobs.twin", scenario.jobs_twin)
    device.step("device.desired-from-job", "wait_desired", desired={"fromJob": scenario.pair},
                timeout=DEVICE_WAIT)
    scenario.reporter.run("jobs.cancel", scenario.jobs_cancel)


def run_configurations(scenario, device):
    names = ("configurations.create", "configurations.applied",
             "device.desired-from-configuration", "configurations.update-etag",
             "configurations.delete")
    if "configurations" in scenario.skip:
        for name in names:
            scenario.reporter.skip(name, "the hub has no /configurations endpoint")
        return
    scenario.reporter.run(names[0], scenario.configurations_create)
    scenario.reporter.run(names[1], scenario.configurations_applied)
    device.step(names[2], "wait_desired", desired={"fromConfiguration": {"pair": scenario.pair}},
                timeout=JOB_WAIT)
    scenario.reporter.run(names[3], scenario.configurations_update)
    scenario.reporter.run(names[4], scenario.configurations_delete)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pair", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--device-id", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--skip", default="")
    command = agent_command(sys.argv)
    args = parser.parse_args(sys.argv[1 : sys.argv.index("--")])
    reporter = Reporter(args.pair)
    device = DeviceAgent(command, reporter, reply_timeout=30)
    scenario = Scenario(args, reporter, device)
    try:
        run(scenario, device)
    finally:
        scenario.cleanup()
        device.close()
    sys.exit(1 if reporter.failed else 0)


if __name__ == "__main__":
    main()
