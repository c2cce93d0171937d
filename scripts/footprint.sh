#!/usr/bin/env bash
# Device footprint: our SDK's minimal device against the official Python SDK's (see
# scripts/footprint.py). Builds the hub and the Rust device and a throwaway venv with
# azure-iot-device 2.14, then measures. Port 8883 on 127.0.0.1 must be free.
#
#   scripts/footprint.sh [SAMPLES]            # examples/footprint_device, default release build
#   scripts/footprint.sh --small [SAMPLES]    # the same source built as a device would ship it
#
# `--small` builds examples/footprint_device.rs as an application outside this workspace that
# depends on crates/iot-device-sdk by path (so only the features it needs are enabled), with a
# size profile (opt-level "s", fat LTO, one codegen unit, panic = "abort") and the C library
# linked statically (`-C target-feature=+crt-static`), in its own target directory.
set -euo pipefail
cd "$(dirname "$0")/.."

small=false
if [ "${1:-}" = "--small" ]; then
    small=true
    shift
fi
venv=${FOOTPRINT_VENV:-${TMPDIR:-/tmp}/footprint-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet azure-iot-device==2.14.0
fi
cargo build --release -p iot-hub --bin iot-hub
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
if $small; then
    device=$(scripts/footprint_small.sh)
else
    cargo build --release --example footprint_device
    device="$target_dir/release/examples/footprint_device"
fi
echo "device binary: $device ($(stat -c %s "$device") bytes)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 scripts/footprint.py "$target_dir/release/iot-hub" "$device" "$venv/bin/python" "${1:-5}"
