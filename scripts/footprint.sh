#!/usr/bin/env bash
# Device footprint: our SDK's minimal device against the official Python SDK's (see
# scripts/footprint.py). Builds the hub and the Rust device in release and a throwaway venv
# with azure-iot-device 2.14, then measures. Port 8883 on 127.0.0.1 must be free.
#
#   scripts/footprint.sh [SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${FOOTPRINT_VENV:-${TMPDIR:-/tmp}/footprint-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet azure-iot-device==2.14.0
fi
cargo build --release -p iot-hub --bin iot-hub
cargo build --release --example footprint_device
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 scripts/footprint.py "$target_dir/release/iot-hub" \
    "$target_dir/release/examples/footprint_device" "$venv/bin/python" "${1:-5}"
