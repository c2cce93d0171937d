"""Device footprint: the resident memory of a minimal connected device built with our device SDK
against the same device written with the official Python SDK, both connected to the hub over
TLS on port 8883 (as the Python SDK requires), twin read, one method handler answering.

Run through scripts/footprint.sh, which builds the programs and the Python environment first:

    footprint.py HUB_BIN RUST_DEVICE_BIN PYTHON_BIN [SAMPLES]

Starts `iot-hub serve --dev-certs` with MQTT on 127.0.0.1:8883 (the only port the Python SDK
connects to, so nothing else may hold it) and a fresh data directory, registers two devices, then for each device program: starts it, waits for `ready`,
calls its `ping` method through the hub's REST API (HTTPS with the development CA), waits for
memory to settle, and samples /proc SAMPLES times a second apart. Prints a Markdown table of
the medians: RSS (VmRSS), peak RSS (VmHWM), its anonymous part (RssAnon: heap, stacks; what
the program allocates) and file-backed part (RssFile: code and read-only data of the program
and its shared libraries), PSS and private memory (smaps_rollup), and the ratios of ours to
Python's.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SETTLE_SECONDS = 3


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def add_device(hub_bin, data_dir, device_id):
    out = subprocess.run(
        [hub_bin, "device", "add", device_id, "--data-dir", data_dir],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


def start_hub(hub_bin, work):
    log_path = os.path.join(work, "hub.log")
    log = open(log_path, "w", encoding="utf-8")
    hub = subprocess.Popen(
        [hub_bin, "serve", "--dev-certs", os.path.join(work, "certs"),
         "--data-dir", os.path.join(work, "data"),
         "--mqtt-addr", "127.0.0.1:8883", "--rest-addr", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=log,
    )

    def banner():
        text = open(log_path, encoding="utf-8").read()
        rest = re.search(r"REST on (\S+)", text)
        service = re.search(r"service connection string: (\S+)", text)
        return (rest.group(1), service.group(1)) if rest and service else None

    rest, service = wait_for(banner, 30, "the hub to start")
    return hub, rest, dict(part.split("=", 1) for part in service.split(";"))


def service_token(service, ttl=3600):
    resource = urllib.parse.quote(service["HostName"], safe="")
    expiry = str(int(time.time()) + ttl)
    key = base64.b64decode(service["SharedAccessKey"])
    digest = hmac.new(key, f"{resource}\n{expiry}".encode(), hashlib.sha256).digest()
    signature = urllib.parse.quote(base64.b64encode(digest).decode(), safe="")
    name = service["SharedAccessKeyName"]
    return f"SharedAccessSignature sr={resource}&sig={signature}&se={expiry}&skn={name}"


def invoke_ping(rest, service, ca_path, device_id):
    body = json.dumps({"methodName": "ping", "payload": None, "responseTimeoutInSeconds": 10})
    request = urllib.request.Request(
        f"https://localhost:{rest.rsplit(':', 1)[1]}/twins/{device_id}/methods?api-version=2021-04-12",
        data=body.encode(), method="POST",
        headers={"Authorization": service_token(service), "Content-Type": "application/json"},
    )
    context = ssl.create_default_context(cafile=ca_path)
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        answer = json.load(response)
    if answer.get("status") != 200:
        raise RuntimeError(f"{device_id} answered {answer}")


def sample(pid):
    status = open(f"/proc/{pid}/status", encoding="utf-8").read()
    rollup = open(f"/proc/{pid}/smaps_rollup", encoding="utf-8").read()

    def field(text, name):
        return int(re.search(rf"^{name}:\s+(\d+) kB", text, re.M).group(1))

    private = field(rollup, "Private_Clean") + field(rollup, "Private_Dirty")
    return {
        "rss": field(status, "VmRSS"), "hwm": field(status, "VmHWM"),
        "anon": field(status, "RssAnon"), "file": field(status, "RssFile"),
        "pss": field(rollup, "Pss"), "private": private,
        "threads": field_plain(status, "Threads"),
    }


def field_plain(text, name):
    return int(re.search(rf"^{name}:\s+(\d+)", text, re.M).group(1))


def measure(command, device_id, rest, service, ca_path, samples):
    device = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = device.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"{command[0]} did not get ready: {line!r} {device.stderr.read()}")
        invoke_ping(rest, service, ca_path, device_id)
        time.sleep(SETTLE_SECONDS)
        taken = []
        for _ in range(samples):
            taken.append(sample(device.pid))
            time.sleep(1)
        invoke_ping(rest, service, ca_path, device_id)
        return {key: statistics.median(s[key] for s in taken) for key in taken[0]}
    finally:
        device.send_signal(signal.SIGKILL)
        device.wait()


def main():
    hub_bin, rust_bin, python_bin = sys.argv[1:4]
    samples = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "data")
        devices = {name: add_device(hub_bin, data, name) for name in ("foot-rs", "foot-py")}
        hub, rest, service = start_hub(hub_bin, work)
        ca_path = os.path.join(work, "certs", "ca.pem")
        try:
            ours = measure([rust_bin, devices["foot-rs"], ca_path], "foot-rs",
                           rest, service, ca_path, samples)
            python = measure([python_bin, os.path.join(here, "footprint_device.py"),
                              devices["foot-py"], ca_path], "foot-py",
                             rest, service, ca_path, samples)
        finally:
            hub.send_signal(signal.SIGINT)
            hub.wait(timeout=30)
    report(ours, python, samples)


def report(ours, python, samples):
    print(f"Medians of {samples} samples, KiB (threads: a count)\n")
    print("| device | RSS | peak RSS | anonymous | file-backed | PSS | private | threads |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m in (("iot-device-sdk (Rust)", ours), ("azure-iot-device 2.14 (Python)", python)):
        print(f"| {name} | {m['rss']:.0f} | {m['hwm']:.0f} | {m['anon']:.0f} | {m['file']:.0f} | "
              f"{m['pss']:.0f} | {m['private']:.0f} | {m['threads']:.0f} |")
    keys = ("rss", "hwm", "anon", "file", "pss", "private")
    ratios = " | ".join(f"{ours[k] / python[k]:.3f}x" for k in keys)
    print(f"| ours / Python | {ratios} | |")


if __name__ == "__main__":
    main()
