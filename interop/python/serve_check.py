"""Checks the `iot-hub serve --dev-certs` binary itself with the official Python SDKs: it
starts on the fixed ports, prints its service connection string and CA, a back end registers
a device, the device connects and reports, the back end reads the report, and Ctrl-C stops
the hub.

Prints one result line per step under the pair name `iot-hub-serve`.

usage: serve_check.py --binary PATH --workdir DIR
"""

import argparse
import os
import signal
import subprocess
import sys
import threading

from azure.iot.device import IoTHubDeviceClient
from azure.iot.hub import IoTHubRegistryManager

from common import Reporter, StepFailed, check, contains, wait_until

PAIR = "iot-hub-serve"
START_TIMEOUT = 60


class Serve:
    """One `iot-hub serve` process and what it printed."""

    def __init__(self, binary, workdir):
        self.command = [binary, "serve", "--dev-certs", os.path.join(workdir, "serve-certs"),
                        "--mqtt-addr", "127.0.0.1:8883", "--rest-addr", "127.0.0.1:443"]
        self.lines = []
        self.process = None
        self.service = None
        self.ca = None

    def start(self):
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)
        threading.Thread(target=self._read, daemon=True).start()
        wait_until(lambda: self._value("service connection string: "), START_TIMEOUT,
                   "no service connection string printed")
        self.service = self._value("service connection string: ")
        self.ca = self._value("development CA certificate: ")
        check(self.ca and os.path.exists(self.ca), f"no CA file: {self.ca}")
        os.environ["REQUESTS_CA_BUNDLE"] = self.ca

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def _value(self, prefix):
        for line in self.lines:
            if line.startswith(prefix):
                return line[len(prefix):]
        return None

    def device_reports(self):
        registry = IoTHubRegistryManager.from_connection_string(self.service)
        device = registry.create_device_with_sas(f"{PAIR}-device", "", "", "enabled")
        with open(self.ca) as file:
            ca_pem = file.read()
        client = IoTHubDeviceClient.create_from_connection_string(
            f"HostName=localhost;DeviceId={device.device_id};"
            f"SharedAccessKey={device.authentication.symmetric_key.primary_key}",
            server_verification_cert=ca_pem,
        )
        try:
            client.connect()
            client.patch_twin_reported_properties({"served": True})
        finally:
            client.shutdown()
        twin = registry.get_twin(device.device_id)
        check(contains(twin.properties.reported, {"served": True}), "the report is not in the twin")

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(20)
        except subprocess.TimeoutExpired:
            raise StepFailed("the hub did not stop within 20 s of Ctrl-C")
        check(code == 0, f"the hub exited with code {code}")

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    reporter = Reporter(PAIR)
    serve = Serve(args.binary, args.workdir)
    try:
        if reporter.run("serve.start", serve.start):
            reporter.run("serve.device-reports", serve.device_reports)
            reporter.run("serve.ctrl-c", serve.stop)
    finally:
        serve.kill()
    sys.exit(1 if reporter.failed else 0)


if __name__ == "__main__":
    main()
