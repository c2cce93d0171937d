#!/usr/bin/env bash
# The interoperability suite: the official Azure IoT SDKs for Python and our SDKs, in pairs,
# against the local hub on the ports the official SDKs insist on (MQTT 8883, HTTPS 443).
# Prepares the virtual environment and the Rust programs, then hands over to run.py.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    cat >&2 <<'MESSAGE'
interop: the official SDKs reach a hub only on ports 8883 (MQTT) and 443 (HTTPS), and binding
port 443 needs root. Run the suite as root, for example:

    sudo bash interop/run.sh

(it needs Python 3.11 with venv and pip, and the Rust toolchain).
MESSAGE
    exit 2
fi

venv=interop/.venv
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r interop/requirements.txt

cargo build --locked --quiet -p iot-hub --bin iot-hub
cargo build --locked --quiet --example interop_hub --example interop_device --example interop_service

exec "$venv/bin/python" interop/run.py "$@"
