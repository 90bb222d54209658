#!/usr/bin/env python3
"""Runs one command and reports its wall time, CPU time and peak RSS (the
child's own rusage, from wait4), plus records per second when the number of
records is given. Used by scripts/bench.sh; every figure in
docs/benchmarks.md's tables comes from a line this prints.

  measure.py LABEL RECORDS RESULTS.jsonl -- COMMAND [ARGS...]

Prints `LABEL: wall … s, … records/s, user … s, sys … s, peak RSS … MB` to
standard error (the command's own output goes through untouched, except
progress lines starting with '…'), and appends the same figures as one JSON
line to RESULTS.jsonl (unless it is '-'). Exits with the command's status.
"""
import json
import os
import subprocess
import sys
import time

label, records, results = sys.argv[1], int(sys.argv[2]), sys.argv[3]
command = sys.argv[sys.argv.index("--") + 1:]
start = time.perf_counter()
child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
for line in child.stdout:
    if not line.startswith("…"):
        sys.stderr.write("   " + line)
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
figures = {
    "label": label, "records": records, "wall_s": round(wall, 3), "user_s": round(usage.ru_utime, 2),
    "sys_s": round(usage.ru_stime, 2), "peak_rss_mb": round(usage.ru_maxrss / 1000, 1),
    "records_per_s": round(records / wall) if records and wall > 0 else None, "exit": code,
    "load": os.getloadavg()[0],
}
rate = f", {figures['records_per_s']:,} records/s" if figures["records_per_s"] else ""
sys.stderr.write(f"   {label}: wall {wall:.2f} s{rate}, user {usage.ru_utime:.2f} s, sys {usage.ru_stime:.2f} s, "
                 f"peak RSS {figures['peak_rss_mb']:.0f} MB (load {figures['load']:.1f}){'' if code == 0 else f', EXIT {code}'}\n")
if results != "-":
    with open(results, "a") as f:
        f.write(json.dumps(figures) + "\n")
sys.exit(code)
