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
import sys

from azure.iot.hub import IoTHubConfigurationManager, IoTHubJobManager, IoTHubRegistryManager
from azure.iot.hub.models import CloudToDeviceMethod, Twin, TwinProperties
from msrest.exceptions import HttpOperationError

from common import DeviceAgent, HubControl, Reporter, agent_command, check, contains, wait_until
from service_fleet import (
    DEVICE_WAIT,
    INVALID_KEY_PATCH,
    JOB_WAIT,
    OVERSIZE_PATCH,
    REJECTED_KEYS,
    FleetSteps,
    c2d_message,
    expect_status,
    telemetry_properties,
)


class Scenario(FleetSteps):
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
