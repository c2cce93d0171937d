#!/usr/bin/env bash
# Runs the criterion benches one after another and prints the median of every benchmark they
# measured in this run (from target/criterion/**/new/estimates.json), with the load average
# before and after each bench: the figures BENCHMARKS.md quotes.
#
#   scripts/bench-criterion.sh                  # every bench
#   scripts/bench-criterion.sh rest methods     # only these
set -euo pipefail
cd "$(dirname "$0")/.."

benches=("$@")
if [ ${#benches[@]} -eq 0 ]; then
    benches=(twin_merge twin_query protocol methods device_client rest service_sdk)
fi

cargo bench --no-run --bench "${benches[0]}" $(printf -- '--bench %s ' "${benches[@]:1}") >/dev/null
for bench in "${benches[@]}"; do
    stamp=$(date +%s.%N)
    echo "== $bench (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
    cargo bench --bench "$bench" >"target/bench-$bench.log" 2>&1
    echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 scripts/criterion_medians.py target/criterion "$stamp"
done
