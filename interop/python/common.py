"""What the interop scenario scripts share: step reporting, the device agent protocol, the
hub's control port, connection strings and waiting with a deadline.

Every step prints exactly one line, `PASS <pair> <step>` or `FAIL <pair> <step>: <why>`
(or `SKIP <pair> <step>: <why>` when the hub lacks the feature). The runner counts them.
"""

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


class StepFailed(Exception):
    """A step's check did not hold; the message says what was wrong."""


def check(condition, why):
    """Fails the current step with `why` unless `condition` holds."""
    if not condition:
        raise StepFailed(why)


def wait_until(probe, timeout, what):
    """Calls `probe` until it returns a true value, at most `timeout` seconds; returns that
    value or fails the step naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise StepFailed(f"{what} within {timeout} s")
        time.sleep(0.2)


def contains(actual, expected):
    """Whether the JSON object `actual` holds every member of `expected` with an equal value
    (nested objects compared the same way)."""
    if not isinstance(actual, dict):
        return False
    for key, value in expected.items():
        if isinstance(value, dict):
            if not contains(actual.get(key), value):
                return False
        elif actual.get(key) != value:
            return False
    return True


class Reporter:
    """Prints the PASS/FAIL/SKIP line of each step of one pair, and counts them."""

    def __init__(self, pair):
        self.pair = pair
        self.failed = 0
        self.lock = threading.Lock()

    def line(self, text):
        """Prints one result line at once (the runner reads lines as they come)."""
        with self.lock:
            print(text, flush=True)
            if text.startswith("FAIL "):
                self.failed += 1

    def run(self, step, function, *args):
        """Runs one step function; prints its result line; returns whether it passed."""
        try:
            function(*args)
        except StepFailed as failure:
            self.line(f"FAIL {self.pair} {step}: {failure}")
            return False
        except Exception as error:  # an SDK error is the step's failure, whatever its type
            self.line(f"FAIL {self.pair} {step}: {type(error).__name__}: {one_line(error)}")
            return False
        self.line(f"PASS {self.pair} {step}")
        return True

    def skip(self, step, why):
        """Reports a step that cannot run against this hub."""
        self.line(f"SKIP {self.pair} {step}: {why}")


def one_line(value):
    """`value` as text on one line, shortened to what a result line can carry."""
    text = " ".join(str(value).split())
    return text if len(text) <= 300 else text[:297] + "..."


def parse_connection_string(text):
    """The `Key=Value;...` pairs of a connection string (values may hold `=`)."""
    fields = {}
    for part in text.split(";"):
        key, _, value = part.partition("=")
        fields[key] = value
    return fields


class DeviceAgent:
    """A device agent process (ours or the official SDK's) driven over stdin/stdout.

    Each command is one JSON line naming the step and the operation; the agent answers with
    exactly one result line for that step, which is echoed to our stdout.
    """

    def __init__(self, command, reporter, reply_timeout):
        self.reporter = reporter
        self.reply_timeout = reply_timeout
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.replies = []
        self.arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            with self.arrived:
                self.replies.append(line.rstrip("\n"))
                self.arrived.notify_all()
        with self.arrived:
            self.replies.append(None)
            self.arrived.notify_all()

    def step(self, step, op, **arguments):
        """Asks the agent to run `op` as `step`; prints its result line; returns whether it
        passed. A silent or dead agent fails the step."""
        command = dict(arguments, step=step, op=op)
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            self.reporter.line(f"FAIL {self.reporter.pair} {step}: the device agent has exited")
            return False
        reply = self._next_reply(arguments.get("timeout", 0) + self.reply_timeout)
        if reply is None:
            self.reporter.line(f"FAIL {self.reporter.pair} {step}: no answer from the device agent")
            return False
        self.reporter.line(reply)
        return reply.startswith("PASS ")

    def _next_reply(self, timeout):
        deadline = time.monotonic() + timeout
        with self.arrived:
            while not self.replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.arrived.wait(left)
            return self.replies.pop(0)

    def close(self, timeout=15):
        """Asks the agent to quit; kills it if it does not within `timeout` seconds."""
        try:
            self.process.stdin.write(json.dumps({"step": "quit", "op": "quit"}) + "\n")
            self.process.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class HubControl:
    """The suite hub's loopback control port: what IoT Hub offers back ends only over AMQP
    and Event Hubs (reading telemetry, sending cloud-to-device messages)."""

    def __init__(self, base_url):
        self.base_url = base_url.rstrip("/")

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            raise StepFailed(f"control {method} {path}: {error.code} {error.read().decode()}")
        return json.loads(text) if text else None

    def telemetry(self, device_id):
        """The telemetry the hub received from `device_id` since it started."""
        return self._call("GET", f"/telemetry/{device_id}")

    def send_c2d(self, device_id, message):
        """Queues a cloud-to-device message for `device_id`: `body`, application
        `properties`, `messageId`, `correlationId`, `contentType`."""
        self._call("POST", f"/c2d/{device_id}", message)


def agent_command(argv):
    """The device agent's command line: everything after `--` in `argv`."""
    if "--" not in argv:
        sys.exit("usage: ... -- <device agent command>")
    return argv[argv.index("--") + 1 :]
