#!/usr/bin/env python3
"""Peer for the end-to-end ingest benchmark: the straightforward script one
would write instead — json.loads each line, pick the token fields of the
three shapes, INSERT OR IGNORE into SQLite in transactions of 5000 rows.
It validates nothing, fingerprints nothing and dead-letters nothing, so it is
a lower bound on the work, not an equivalent. Usage: ingest_peer.py FILE DB"""
import hashlib
import json
import sqlite3
import sys
import time

path, db = sys.argv[1], sys.argv[2]
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA synchronous=NORMAL")
con.execute("CREATE TABLE IF NOT EXISTS ledger (id TEXT PRIMARY KEY, ts TEXT, party TEXT, model TEXT, "
            "prompt INTEGER, completion INTEGER) WITHOUT ROWID")
start = time.perf_counter()
rows, received, bad = [], 0, 0


def flush():
    con.executemany("INSERT OR IGNORE INTO ledger VALUES (?,?,?,?,?,?)", rows)
    con.commit()
    rows.clear()


with open(path, "rb") as f:
    for line in f:
        received += 1
        try:
            r = json.loads(line)
            if "schema" in r:
                u = r.get("usage") or {}
                row = (r["id"], r["timestamp"], r.get("application") or r.get("subscription_id"), r.get("model"),
                       int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0)))
            elif "AppKey" in r:
                row = (hashlib.sha256(line).hexdigest(), r["Timestamp"], r["AppKey"], None,
                       int(r["PromptTokens"]), int(r["CompletionTokens"]))
            else:
                u = r["response"]["usage"]
                row = (hashlib.sha256(line).hexdigest(), r["eventTime"], r["appSubscriptionKey"],
                       r["response"].get("model"), int(u["prompt_tokens"]), int(u["completion_tokens"]))
            rows.append(row)
        except Exception:
            bad += 1
        if len(rows) >= 5000:
            flush()
flush()
elapsed = time.perf_counter() - start
print(f"peer: {received} lines, {bad} unparsed, {elapsed:.2f} s, {received / elapsed:.0f} records/s")
