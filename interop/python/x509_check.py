"""Devices with self-signed X.509 certificates (PROTOCOL 1.7): the official service SDK
registers a device by its certificate's thumbprint; a device agent (the official device SDK's
or ours) connects with that certificate and reports; another certificate is refused.

usage: x509_check.py --pair NAME --service CS --ca CA.pem --workdir DIR -- <agent command>
The agent command gets `--device-id ID --x509-cert PEM --x509-key PEM` appended.
"""

import argparse
import hashlib
import os
import ssl
import subprocess
import sys

from azure.iot.hub import IoTHubRegistryManager

from common import DeviceAgent, Reporter, agent_command, check, contains, wait_until

DEVICE_WAIT = 20


def make_certificate(directory, name, common_name):
    """A new self-signed certificate and key (PEM files); returns their paths and the
    certificate's SHA-1 thumbprint, upper-case hex as IoT Hub shows it."""
    cert, key = (os.path.join(directory, f"{name}.{kind}.pem") for kind in ("cert", "key"))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", f"/CN={common_name}", "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )
    with open(cert) as file:
        der = ssl.PEM_cert_to_DER_cert(file.read())
    return cert, key, hashlib.sha1(der).hexdigest().upper()


class Scenario:
    """One X.509 device, registered by the official service SDK."""

    def __init__(self, args):
        self.args = args
        self.device_id = f"{args.pair}-device"
        self.registry = IoTHubRegistryManager.from_connection_string(args.service)
        self.certificate = None

    def register(self):
        cert, key, thumbprint = make_certificate(self.args.workdir, self.args.pair, self.device_id)
        self.certificate = (cert, key)
        device = self.registry.create_device_with_x509(self.device_id, thumbprint, "", "enabled")
        check(device.authentication.type == "selfSigned", f"type {device.authentication.type}")
        registered = device.authentication.x509_thumbprint.primary_thumbprint
        check(registered.upper() == thumbprint, f"thumbprint {registered}")

    def reported(self):
        def arrived():
            twin = self.registry.get_twin(self.device_id)
            return contains(twin.properties.reported, {"x509": {"pair": self.args.pair}})

        wait_until(arrived, DEVICE_WAIT, "the report did not reach the twin")

    def cleanup(self):
        try:
            self.registry.delete_device(self.device_id)
        except Exception:  # best effort: the hub stops after the suite anyway
            pass


def agent_for(command, device_id, cert, key, reporter):
    arguments = ["--device-id", device_id, "--x509-cert", cert, "--x509-key", key]
    return DeviceAgent(command + arguments, reporter, reply_timeout=30)


def main():
    parser = argparse.ArgumentParser()
    for name in ("--pair", "--service", "--ca", "--workdir"):
        parser.add_argument(name, required=True)
    command = agent_command(sys.argv)
    args = parser.parse_args(sys.argv[1 : sys.argv.index("--")])
    os.environ["REQUESTS_CA_BUNDLE"] = args.ca
    reporter = Reporter(args.pair)
    scenario = Scenario(args)
    try:
        if not reporter.run("x509.register", scenario.register):
            sys.exit(1)
        device = agent_for(command, scenario.device_id, *scenario.certificate, reporter)
        device.step("device.connect", "connect")
        device.step("device.report", "report", patch={"x509": {"pair": args.pair}})
        reporter.run("twin.reported", scenario.reported)
        device.step("device.disconnect", "disconnect")
        device.close()
        cert, key, _ = make_certificate(args.workdir, f"{args.pair}-other", scenario.device_id)
        stranger = agent_for(command, scenario.device_id, cert, key, reporter)
        stranger.step("device.other-certificate-refused", "connect_refused", timeout=30)
        stranger.close()
    finally:
        scenario.cleanup()
    sys.exit(1 if reporter.failed else 0)


if __name__ == "__main__":
    main()
