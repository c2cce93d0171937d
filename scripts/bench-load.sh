#!/usr/bin/env bash
# Load measurements of the hub against Mosquitto in the same run (examples/loadgen): reported
# patches, direct methods, desired fan-out and 10,000 idle connections, three runs each,
# medians and ratios. Needs the Debian package mosquitto and an open-file limit of 20,000.
#
#   scripts/bench-load.sh                 # everything (about ten minutes)
#   scripts/bench-load.sh methods --depth 32 --runs 5
set -euo pipefail
cd "$(dirname "$0")/.."

command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
command -v mosquitto >/dev/null || { echo "install mosquitto (apt-get install mosquitto)" >&2; exit 1; }
ulimit -n 20000
cargo build --release -p iot-hub --bin iot-hub
cargo build --release --example loadgen
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$target_dir/release/examples/loadgen" --hub-bin "$target_dir/release/iot-hub" "${@:-all}"
