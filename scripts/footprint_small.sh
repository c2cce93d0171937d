#!/usr/bin/env bash
# Builds examples/footprint_device.rs the way a device application would ship it and prints the
# binary's path: a crate outside this workspace (so that only the features the device SDK needs
# are enabled) depending on crates/iot-device-sdk by path, with this workspace's Cargo.lock, a
# size profile and the C library linked statically. Used by `scripts/footprint.sh --small`.
#
#   scripts/footprint_small.sh     # FOOTPRINT_SMALL_DIR (default $TMPDIR/footprint-small) holds the crate
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${FOOTPRINT_SMALL_DIR:-${TMPDIR:-/tmp}/footprint-small}
host=$(rustc -vV | sed -n 's/^host: //p')

mkdir -p "$dir/src"
cp "$repo/examples/footprint_device.rs" "$dir/src/main.rs"
cp "$repo/Cargo.lock" "$dir/Cargo.lock"
cat >"$dir/Cargo.toml" <<TOML
[package]
name = "footprint-device"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
iot-device-sdk = { path = "$repo/crates/iot-device-sdk" }
serde_json = "1"
tokio = { version = "1", features = ["rt", "macros"] }

[profile.small]
inherits = "release"
opt-level = "s"
lto = "fat"
codegen-units = 1
panic = "abort"
TOML
# An explicit --target keeps build scripts and proc macros dynamically linked.
(cd "$dir" && RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --quiet --profile small --target "$host" >&2)
echo "$dir/target/$host/small/footprint-device"
