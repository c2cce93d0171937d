"""Prints the median of every criterion benchmark measured since a time stamp.

Usage: criterion_medians.py CRITERION_DIR SINCE_UNIX_SECONDS

Criterion writes one `new/estimates.json` per benchmark; the median's point estimate is in
nanoseconds. Rows are `group/benchmark  median` in microseconds, sorted by path.
"""

import json
import os
import sys


def medians(root, since):
    rows = []
    for directory, _, files in os.walk(root):
        if not directory.endswith(os.sep + "new") or "estimates.json" not in files:
            continue
        path = os.path.join(directory, "estimates.json")
        if os.path.getmtime(path) < since:
            continue
        with open(path, encoding="utf-8") as file:
            estimates = json.load(file)
        bench = os.path.relpath(os.path.dirname(directory), root)
        rows.append((bench, estimates["median"]["point_estimate"] / 1000.0))
    return sorted(rows)


def main():
    root, since = sys.argv[1], float(sys.argv[2])
    for bench, micros in medians(root, since):
        print(f"   {bench:<60} {micros:>14.3f} µs")


if __name__ == "__main__":
    main()
