"""The footprint device written with the official Python device SDK (azure-iot-device 2.14).

The same scenario as examples/footprint_device.rs: connect over TLS (MQTT on port 8883 of the
connection string's host, trusting the given CA), read the twin, answer the direct method
`ping`, print `ready`, and wait until killed.

Usage: python footprint_device.py "<device connection string>" <CA certificate PEM>
"""

import sys
import threading

from azure.iot.device import IoTHubDeviceClient, MethodResponse


def main():
    connection_string, ca_path = sys.argv[1], sys.argv[2]
    with open(ca_path, encoding="ascii") as file:
        ca = file.read()
    client = IoTHubDeviceClient.create_from_connection_string(
        connection_string, server_verification_cert=ca
    )

    def on_method(request):
        status = 200 if request.name == "ping" else 404
        payload = {"pong": True} if status == 200 else None
        client.send_method_response(MethodResponse.create_from_method_request(request, status, payload))

    client.on_method_request_received = on_method
    client.connect()
    twin = client.get_twin()
    print(f"ready (desired version {twin['desired']['$version']})", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
