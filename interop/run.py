"""Runs the interoperability suite (started by run.sh inside the virtual environment).

First checks the `iot-hub serve --dev-certs` binary with the official SDKs (serve_check.py).
Then starts the suite hub (`interop_hub`: the same hub with development certificates, host
name `localhost`, MQTT on 127.0.0.1:8883 and HTTPS on 127.0.0.1:443, plus a control port for
telemetry and cloud-to-device messages) in a temporary directory, registers one device per
pair, and runs the pairs one after another:

- pydev-pysvc: the official device SDK with the official service SDK;
- pydev-rssvc: the official device SDK with our service SDK;
- rsdev-pysvc: our device SDK with the official service SDK;
- pydev-x509, rsdev-x509: the official device SDK and ours with self-signed X.509
  certificates, registered by the official service SDK (x509_check.py).

Prints every step's result line, then `N passed, N failed, N skipped`; exits non-zero if a
step failed or none passed. Every wait is bounded, and the hub is always stopped.

usage: run.py [PAIR ...]   (default: every pair)
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from azure.iot.hub import IoTHubConfigurationManager, IoTHubJobManager, IoTHubRegistryManager
from msrest.exceptions import HttpOperationError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
SCRIPTS = os.path.join(ROOT, "interop", "python")
BUILD = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug")
EXAMPLES = os.path.join(BUILD, "examples")
HUB_START_TIMEOUT = 60
PAIR_TIMEOUT = 420


def example(name):
    return os.path.join(EXAMPLES, name)


def start_hub(workdir):
    """Starts the suite hub; returns the process and its announcement."""
    log = open(os.path.join(workdir, "hub.log"), "w")
    command = [example("interop_hub"), "--dev-certs", os.path.join(workdir, "certs"),
               "--mqtt-addr", "127.0.0.1:8883", "--rest-addr", "127.0.0.1:443",
               "--control-addr", "127.0.0.1:0"]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=log, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(HUB_START_TIMEOUT)
    if not lines or not lines[0]:
        stop_hub(process)
        with open(log.name) as file:
            sys.exit(f"interop: the hub did not start:\n{file.read()[-3000:]}")
    return process, json.loads(lines[0])


def stop_hub(process):
    """Closes the hub's stdin (its signal to stop); kills it if it takes over 20 s."""
    try:
        process.stdin.close()
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def missing_features(service):
    """The hub features the service scenarios must skip: `jobs` or `configurations` when the
    hub answers their paths with a 404 GenericNotFound (no such route) instead of the
    feature's own not-found error."""
    missing = []
    probes = {
        "jobs": lambda: IoTHubJobManager.from_connection_string(service)
        .get_scheduled_job("interop-probe"),
        "configurations": lambda: IoTHubConfigurationManager.from_connection_string(service)
        .get_configuration("interop-probe"),
    }
    for feature, probe in probes.items():
        try:
            probe()
        except HttpOperationError as error:
            if error.response.headers.get("iothub-errorcode") == "GenericNotFound":
                missing.append(feature)
    return missing


def register(registry, device_id):
    """Registers a device with generated keys; returns its connection string."""
    try:
        registry.delete_device(device_id)
    except HttpOperationError:
        pass
    device = registry.create_device_with_sas(device_id, "", "", "enabled")
    key = device.authentication.symmetric_key.primary_key
    return f"HostName=localhost;DeviceId={device_id};SharedAccessKey={key}"


def python_device(pair, connection_string, ca):
    return [PYTHON, os.path.join(SCRIPTS, "device_agent.py"), "--pair", pair,
            "--connection-string", connection_string, "--ca", ca]


def rust_device(pair, connection_string, ca):
    return [example("interop_device"), "--pair", pair,
            "--connection-string", connection_string, "--ca", ca]


def python_service(arguments):
    return [PYTHON, os.path.join(SCRIPTS, "service_driver.py")] + arguments


def rust_service(arguments):
    return [example("interop_service")] + arguments


def x509_agents(pair, ca):
    """The device agents of the X.509 checks, by pair (x509_check.py adds the identity)."""
    return {
        "pydev-x509": [PYTHON, os.path.join(SCRIPTS, "device_agent.py"), "--pair", pair,
                       "--ca", ca],
        "rsdev-x509": [example("interop_device"), "--pair", pair, "--ca", ca],
    }[pair]


X509_PAIRS = ("pydev-x509", "rsdev-x509")

PAIRS = {
    "pydev-pysvc": (python_device, python_service),
    "pydev-rssvc": (python_device, rust_service),
    "rsdev-pysvc": (rust_device, python_service),
}


class Tally:
    """Counts result lines as they are printed."""

    def __init__(self):
        self.counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}

    def line(self, text):
        print(text, flush=True)
        word = text.split(" ", 1)[0]
        if word in self.counts:
            self.counts[word] += 1


def run_logged(name, command, workdir, tally):
    """Runs a scenario program, its result lines to `tally` and its stderr to a log; adds a
    failure when it exits badly without saying why, and shows the log's end then."""
    log_path = os.path.join(workdir, f"{name}.log")
    failed_before = tally.counts["FAIL"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        timer = threading.Timer(PAIR_TIMEOUT, process.kill)
        timer.start()
        lines = 0
        for text in process.stdout:
            tally.line(text.rstrip("\n"))
            lines += 1
        code = process.wait()
        timer.cancel()
    if lines == 0 or (code != 0 and tally.counts["FAIL"] == failed_before):
        tally.line(f"FAIL {name} driver: exited with code {code} after {lines} lines")
    if code != 0:
        with open(log_path) as file:
            print(f"--- {name} log (last lines) ---\n{file.read()[-4000:]}", flush=True)


def run_pair(pair, hub, skip, registry, workdir, tally):
    """Runs one pair's driver with its device agent; its result lines go to `tally`."""
    make_device, make_service = PAIRS[pair]
    device_id = f"{pair}-device"
    connection_string = register(registry, device_id)
    arguments = ["--pair", pair, "--service", hub["service"], "--control", hub["control"],
                 "--device-id", device_id, "--ca", hub["ca"], "--skip", ",".join(skip), "--"]
    command = make_service(arguments) + make_device(pair, connection_string, hub["ca"])
    run_logged(pair, command, workdir, tally)


def run_x509(pair, hub, workdir, tally):
    """Runs the X.509 check with one device agent."""
    command = [PYTHON, os.path.join(SCRIPTS, "x509_check.py"), "--pair", pair,
               "--service", hub["service"], "--ca", hub["ca"], "--workdir", workdir, "--"]
    run_logged(pair, command + x509_agents(pair, hub["ca"]), workdir, tally)


def main():
    known = list(PAIRS) + list(X509_PAIRS)
    pairs = sys.argv[1:] or known
    unknown = [pair for pair in pairs if pair not in known]
    if unknown:
        sys.exit(f"interop: unknown pairs {unknown}; known: {known}")
    started = time.monotonic()
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="interop-") as workdir:
        serve_check = [PYTHON, os.path.join(SCRIPTS, "serve_check.py"),
                       "--binary", os.path.join(BUILD, "iot-hub"), "--workdir", workdir]
        run_logged("iot-hub-serve", serve_check, workdir, tally)
        process, hub = start_hub(workdir)
        try:
            os.environ["REQUESTS_CA_BUNDLE"] = hub["ca"]
            registry = IoTHubRegistryManager.from_connection_string(hub["service"])
            skip = missing_features(hub["service"])
            for pair in pairs:
                if pair in X509_PAIRS:
                    run_x509(pair, hub, workdir, tally)
                else:
                    run_pair(pair, hub, skip, registry, workdir, tally)
        finally:
            stop_hub(process)
    counts = tally.counts
    print(f"interop suite took {time.monotonic() - started:.0f} s")
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped", flush=True)
    sys.exit(1 if counts["FAIL"] or not counts["PASS"] else 0)


if __name__ == "__main__":
    main()
