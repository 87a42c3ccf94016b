#!/usr/bin/env python3
"""Per-run ratios dl-lab / torch from result files written in pairs (``*-rN.json``), and their median.

    python bench/ratios.py bench/results/*-t2-*-r*.json

The shared report.py divides the median of each side; on a noisy machine the ratio within one run (both
sides measured minutes apart) is the steadier number, so both are shown.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections import defaultdict


def main(paths: list[str]) -> None:
    runs: dict[str, dict[str, dict]] = defaultdict(dict)
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        run = re.search(r"-(t\d+-[\d-]*-r\d+)\.json$", path)  # thread count, stamp and run number
        runs[run.group(1) if run else path][data["impl"]] = data["results"]
    ratios: dict[str, list[float]] = defaultdict(list)
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for pair in runs.values():
        if "torch" not in pair or "dl-lab" not in pair:
            continue
        for key, res in pair["dl-lab"].items():
            if key in pair["torch"]:
                ratios[key].append(res["samples_per_s"] / pair["torch"][key]["samples_per_s"])
                values[key, "torch"].append(pair["torch"][key]["samples_per_s"])
                values[key, "dl-lab"].append(res["samples_per_s"])
    print(f"\n{len(runs)} paired runs.\n")
    print("| workload | torch samples/s (median) | dl-lab samples/s (median) | ratio per run | median ratio |")
    print("|---|---|---|---|---|")
    for key, rs in ratios.items():
        t, d = statistics.median(values[key, "torch"]), statistics.median(values[key, "dl-lab"])
        per_run = ", ".join(f"{r:.2f}" for r in rs)
        print(f"| {key} | {t:,.0f} | {d:,.0f} | {per_run} | {statistics.median(rs):.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
