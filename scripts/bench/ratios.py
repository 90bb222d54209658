#!/usr/bin/env python3
"""Summarises the figures scripts/bench/measure.py appended to RESULTS.jsonl:
per label, the best and the median wall time and records/s over the runs, and
each label's ratio to the peer label given (same run, same input).

  ratios.py RESULTS.jsonl [PEER_LABEL_SUFFIX]

Labels look like `<input> | <what>`; within one input, every line is
compared with the line whose <what> ends with PEER_LABEL_SUFFIX (default
`peer`): `ours / peer` is the ratio of records per second (higher is better
for us), from the median runs.
"""
import json
import statistics
import sys
from collections import defaultdict

path = sys.argv[1]
suffix = sys.argv[2] if len(sys.argv) > 2 else "peer"
runs = defaultdict(list)
order = []
for line in open(path):
    r = json.loads(line)
    if r["label"] not in runs:
        order.append(r["label"])
    runs[r["label"]].append(r)


def median_wall(label):
    return statistics.median(r["wall_s"] for r in runs[label])


print(f"{'input | what':<58} {'runs':>4} {'wall (median)':>13} {'records/s':>11} {'peak RSS':>9} {'vs peer':>8}")
for label in order:
    rs = runs[label]
    inp = label.split(" | ")[0]
    peers = [lab for lab in order if lab.startswith(inp + " | ") and lab.endswith(suffix)]
    wall = median_wall(label)
    records = rs[0]["records"]
    rate = f"{records / wall:,.0f}" if records else "-"
    ratio = ""
    if peers and peers[0] != label:
        ratio = f"{median_wall(peers[0]) / wall:.2f}x"
    rss = max(r["peak_rss_mb"] for r in rs)
    print(f"{label:<58} {len(rs):>4} {wall:>11.2f} s {rate:>11} {rss:>6.0f} MB {ratio:>8}")
