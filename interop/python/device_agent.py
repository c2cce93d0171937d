"""The device side of the interop scenarios, played by the official Python device SDK
(azure-iot-device 2.x).

Driven by a service script: one JSON command per stdin line, one result line per command on
stdout (`PASS <pair> <step>` or `FAIL <pair> <step>: <why>`). The device connects to
`localhost:8883` (the only port the SDK uses) and trusts the hub's development CA.

usage: device_agent.py --pair NAME --ca CA.pem
                       (--connection-string CS | --device-id ID --x509-cert PEM --x509-key PEM)
"""

import argparse
import json
import sys
import threading
import time

from azure.iot.device import X509, IoTHubDeviceClient, Message, MethodResponse

from common import StepFailed, check, contains, one_line, parse_connection_string, wait_until


class Device:
    """One official-SDK device client and what it has observed."""

    def __init__(self, args, ca_pem):
        self.client = make_client(args, ca_pem)
        self.lock = threading.Lock()
        self.desired = {}
        self.methods = []
        self.messages = []
        self.handlers_set = False

    def on_desired(self, patch):
        with self.lock:
            for key, value in patch.items():
                if value is None:
                    self.desired.pop(key, None)
                else:
                    self.desired[key] = value

    def on_method(self, request):
        with self.lock:
            self.methods.append((request.name, request.payload))
        if request.name == "slow":
            # Answers after the caller's response timeout, which must then see a 504.
            time.sleep(request.payload["seconds"])
        answer = {"method": request.name, "echo": request.payload}
        response = MethodResponse.create_from_method_request(request, 200, answer)
        self.client.send_method_response(response)

    def on_message(self, message):
        with self.lock:
            self.messages.append(message)

    # One method per operation the service script can ask for.

    def op_connect(self, command):
        self.client.connect()
        if not self.handlers_set:
            # Handlers are set after connect(), as the SDK's samples do: set before it, the
            # SDK's first desired-freshness GET goes out before its twin-response SUBSCRIBE,
            # and no hub (IoT Hub included) answers a device not yet subscribed.
            self.client.on_twin_desired_properties_patch_received = self.on_desired
            self.client.on_method_request_received = self.on_method
            self.client.on_message_received = self.on_message
            self.handlers_set = True

    def op_connect_refused(self, command):
        try:
            self.client.connect()
        except Exception:  # the refusal, whichever error the SDK maps it to
            return
        raise StepFailed("the hub accepted the connection")

    def op_disconnect(self, command):
        self.client.disconnect()

    def op_get_twin(self, command):
        twin = self.client.get_twin()
        check(set(twin) == {"desired", "reported"}, f"twin sections are {sorted(twin)}")
        for section in ("desired", "reported"):
            check(isinstance(twin[section].get("$version"), int), f"{section} has no $version")
        expected = command.get("desired", {})
        check(contains(twin["desired"], expected), f"desired {twin['desired']} lacks {expected}")
        with self.lock:
            self.desired = {k: v for k, v in twin["desired"].items() if k != "$version"}

    def op_report(self, command):
        self.client.patch_twin_reported_properties(command["patch"])

    def op_report_rejected(self, command):
        try:
            self.client.patch_twin_reported_properties(command["patch"])
        except Exception:  # the hub's refusal, whichever error the SDK maps it to
            return
        raise StepFailed("the hub accepted the patch")

    def op_wait_desired(self, command):
        expected = command["desired"]

        def arrived():
            with self.lock:
                return contains(self.desired, expected)

        wait_until(arrived, command["timeout"], f"desired {expected} did not arrive")

    def op_wait_desired_absent(self, command):
        keys = command["keys"]

        def removed():
            with self.lock:
                return not any(key in self.desired for key in keys)

        wait_until(removed, command["timeout"], f"desired {keys} were not removed")

    def op_expect_method(self, command):
        wanted = (command["name"], command["payload"])

        def seen():
            with self.lock:
                return wanted in self.methods

        wait_until(seen, command["timeout"], f"method call {wanted} was not received")

    def op_send_telemetry(self, command):
        message = Message(
            command["body"],
            message_id=command["messageId"],
            content_encoding="utf-8",
            content_type="application/json",
        )
        message.custom_properties = dict(command["properties"])
        self.client.send_message(message)

    def op_wait_c2d(self, command):
        def received():
            with self.lock:
                return [m for m in self.messages if matches_c2d(m, command)]

        wait_until(received, command["timeout"], "the cloud-to-device message did not arrive")


def make_client(args, ca_pem):
    """The official client for a device with a key (from its connection string) or with an
    X.509 certificate. PROTOCOL 14: the TCP host is `gateway_hostname`; `hostname` goes into
    the username (and the SAS token)."""
    if args.connection_string:
        fields = parse_connection_string(args.connection_string)
        return IoTHubDeviceClient.create_from_symmetric_key(
            symmetric_key=fields["SharedAccessKey"],
            hostname=fields["HostName"],
            device_id=fields["DeviceId"],
            server_verification_cert=ca_pem,
            gateway_hostname="localhost",
        )
    return IoTHubDeviceClient.create_from_x509_certificate(
        x509=X509(args.x509_cert, args.x509_key),
        hostname="localhost",
        device_id=args.device_id,
        server_verification_cert=ca_pem,
        gateway_hostname="localhost",
    )


def matches_c2d(message, command):
    """Whether a received message is the one the command describes."""
    body = message.data.decode() if isinstance(message.data, bytes) else message.data
    properties = message.custom_properties or {}
    return (
        body == command["body"]
        and message.message_id == command["messageId"]
        and message.correlation_id == command["correlationId"]
        and message.content_type == command["contentType"]
        and all(properties.get(k) == v for k, v in command["properties"].items())
    )


def serve(device, pair):
    """Runs commands until `quit` or the end of stdin."""
    for line in sys.stdin:
        command = json.loads(line)
        step, op = command["step"], command["op"]
        if op == "quit":
            break
        try:
            getattr(device, "op_" + op)(command)
        except StepFailed as failure:
            print(f"FAIL {pair} {step}: {failure}", flush=True)
            continue
        except Exception as error:  # an SDK error is the step's failure, whatever its type
            print(f"FAIL {pair} {step}: {type(error).__name__}: {one_line(error)}", flush=True)
            continue
        print(f"PASS {pair} {step}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pair", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--connection-string")
    parser.add_argument("--device-id")
    parser.add_argument("--x509-cert")
    parser.add_argument("--x509-key")
    args = parser.parse_args()
    if not args.connection_string and not (args.device_id and args.x509_cert and args.x509_key):
        parser.error("give --connection-string, or --device-id with --x509-cert and --x509-key")
    with open(args.ca) as file:
        ca_pem = file.read()
    device = Device(args, ca_pem)
    try:
        serve(device, args.pair)
    finally:
        device.client.shutdown()


if __name__ == "__main__":
    main()
