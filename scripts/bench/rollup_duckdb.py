#!/usr/bin/env python3
"""Peer and referee of the rollup benchmark (scripts/bench-rollup.sh).

  prepare LEDGER.sqlite PEER.duckdb
      Copies the columns of the ledger that the rollup reads into a DuckDB
      table (through a CSV file; DuckDB's sqlite extension would have to be
      downloaded). Not timed: it gives DuckDB the same rows in its own format.
  query PEER.duckdb MAPPING.csv MONTH OUT.csv
      The peer, timed by the caller as a whole process: token sums per
      business unit, model and day of the month, parties mapped to business
      units with the same applications.csv the rollup reads (a party without
      a row is `unassigned`). Prints the query's own time.
  mapping LEDGER.sqlite OUT.csv
      Writes the applications.csv both sides map parties with: the demo
      estate's parties by name (sub-shadow-script stays unmapped, as in the
      demo), and each fingerprinted APIM key in turn to one of the three APIM
      applications (the generator draws new keys for every 100,000 records,
      so the demo's own mapping cannot be rebuilt from its seed).
  export-sqlite LEDGER.sqlite OUT.csv
      Our rollup's daily aggregates (usage_aggregates) as CSV, as `psql
      \copy` writes them from PostgreSQL.
  compare AGGREGATES.csv MAPPING.csv CHARGEBACK.json MONTH OUT.csv
      Fails unless our rollup's results agree with the peer's: the rollup's
      daily aggregates (AGGREGATES.csv, from either backend) mapped the same
      way, per business unit, model and day; and the rollup's priced
      statement (chargeback.json), per business unit and model for the month.
"""
import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

COLUMNS = ("tenant", "day", "party", "model", "deployment", "token_source",
           "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens")
COUNTS = ("requests", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens")
TENANT = os.environ.get("CHARGEBACK_TENANT", "default")


def month_days(month):
    year, mon = (int(x) for x in month.split("-"))
    nxt = f"{year + 1}-01" if mon == 12 else f"{year}-{mon + 1:02d}"
    return f"{month}-01", f"{nxt}-01"


def prepare(ledger, peer):
    import duckdb
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(peer))) as tmp:
        path = os.path.join(tmp, "ledger.csv")
        select = f"SELECT {', '.join(COLUMNS)} FROM ledger"
        try:  # the sqlite3 shell is much faster at this than Python
            with open(path, "wb") as out:
                subprocess.run(["sqlite3", "-readonly", "-csv", "-header", ledger, select], stdout=out, check=True)
        except FileNotFoundError:
            con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
            with open(path, "w", newline="") as out:
                w = csv.writer(out)
                w.writerow(COLUMNS)
                w.writerows(con.execute(select))
        if os.path.exists(peer):
            os.remove(peer)
        db = duckdb.connect(peer)
        types = {c: "VARCHAR" for c in COLUMNS[:6]} | {c: "BIGINT" for c in COLUMNS[6:]}
        db.execute(f"CREATE TABLE ledger AS SELECT * FROM read_csv(?, header = true, columns = {types!r})", [path])
        n = db.execute("SELECT count(*) FROM ledger").fetchone()[0]
        db.close()
    print(f"   {n:,} ledger rows in {peer}")


PEER_SQL = """
SELECT COALESCE(m.business_unit, 'unassigned') AS business_unit, COALESCE(l.model, '') AS model, l.day,
       count(*) AS requests, sum(l.prompt_tokens) AS prompt_tokens, sum(l.completion_tokens) AS completion_tokens,
       sum(l.cached_tokens) AS cached_tokens, sum(l.reasoning_tokens) AS reasoning_tokens
FROM ledger l
LEFT JOIN read_csv(?, header = true, all_varchar = true) m ON m.party = l.party
WHERE l.tenant = ? AND l.day >= ? AND l.day < ?
GROUP BY ALL
ORDER BY ALL
"""


def query(peer, mapping, month, out):
    import duckdb
    start = time.perf_counter()
    db = duckdb.connect(peer, read_only=True)
    first, nxt = month_days(month)
    rows = db.execute(PEER_SQL, [mapping, TENANT, first, nxt]).fetchall()
    elapsed = time.perf_counter() - start
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("business_unit", "model", "day") + COUNTS)
        w.writerows(rows)
    print(f"   duckdb {duckdb.__version__}, {db.execute('SELECT current_setting(?)', ['threads']).fetchone()[0]} "
          f"threads: query {elapsed:.3f} s (connect + query + fetch), {len(rows):,} rows")


def load_mapping(path):
    with open(path, newline="") as f:
        return {r["party"].strip(): (r["business_unit"].strip() or "unassigned") for r in csv.DictReader(f)}


NAMED = {
    "marketing-copilot": ("marketing-copilot", "Marketing"), "support-bot": ("support-bot", "Customer Support"),
    "ticket-triage": ("ticket-triage", "Customer Support"), "code-review": ("code-review", "R&D"),
    "sub-finance-assistant": ("finance-assistant", "Finance"), "sub-research-rag": ("research-rag", "R&D"),
}
APIM = [("campaign-writer", "Marketing"), ("invoice-extractor", "Finance"), ("hr-helpdesk", "HR")]


def mapping(ledger, out):
    con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    parties = [p for (p,) in con.execute("SELECT DISTINCT party FROM usage_cells ORDER BY party")]
    rows, keys = [], 0
    for p in parties:
        if p in NAMED:
            rows.append((p, *NAMED[p]))
        elif p.startswith("fp_"):
            rows.append((p, *APIM[keys % 3]))
            keys += 1
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("party", "application", "business_unit"))
        w.writerows(rows)
    print(f"   {len(parties)} parties, {len(rows)} mapped ({keys} key fingerprints)")


def export_sqlite(ledger, out):
    con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("party", "model", "day") + COUNTS)
        w.writerows(con.execute(f"SELECT party, model, day, {', '.join(COUNTS)} FROM usage_aggregates WHERE tenant = ?",
                                (TENANT,)))


def compare(aggregates, mapping, statement, month, peer_out):
    bu_of = load_mapping(mapping)
    first, nxt = month_days(month)
    peer = {}
    with open(peer_out, newline="") as f:
        for r in csv.DictReader(f):
            peer[(r["business_unit"], r["model"], r["day"])] = tuple(int(r[c]) for c in COUNTS)

    ours = defaultdict(lambda: [0] * 5)
    with open(aggregates, newline="") as f:
        for r in csv.DictReader(f):
            if not first <= r["day"] < nxt:
                continue
            acc = ours[(bu_of.get(r["party"], "unassigned"), r["model"], r["day"])]
            for i, c in enumerate(COUNTS):
                acc[i] += int(r[c])
    ours = {k: tuple(v) for k, v in ours.items()}
    failures = diff("per business unit, model and day (usage_aggregates)", ours, peer)

    monthly_peer = defaultdict(lambda: [0] * 5)
    for (bu, model, _), counts in peer.items():
        acc = monthly_peer[(bu, model)]
        for i, n in enumerate(counts):
            acc[i] += n
    monthly_ours = defaultdict(lambda: [0] * 5)
    with open(statement) as f:
        for line in json.load(f)["lines"]:
            if line["kind"] == "unused-capacity":
                continue
            acc = monthly_ours[(line["business_unit"], line["model"])]
            for i, c in enumerate(COUNTS):
                acc[i] += line[c]
    failures += diff("per business unit and model for the month (chargeback.json)",
                     {k: tuple(v) for k, v in monthly_ours.items()}, {k: tuple(v) for k, v in monthly_peer.items()})
    if failures:
        sys.exit("THE SUMS DO NOT AGREE")
    total = [sum(v[i] for v in peer.values()) for i in range(5)]
    print(f"   the sums agree: {len(peer):,} (business unit, model, day) cells, {len(monthly_peer)} (business unit, "
          f"model) lines; {total[0]:,} requests, {total[1] + total[2]:,} tokens")


def diff(what, ours, peer):
    bad = sorted(k for k in ours.keys() | peer.keys() if ours.get(k) != peer.get(k))
    for k in bad[:20]:
        print(f"   MISMATCH {what} {k}: ours {ours.get(k)} peer {peer.get(k)}", file=sys.stderr)
    if bad:
        print(f"   {len(bad)} of {len(ours.keys() | peer.keys())} keys differ {what}", file=sys.stderr)
    return len(bad)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"prepare": prepare, "query": query, "mapping": mapping, "export-sqlite": export_sqlite,
     "compare": compare}[command](*args)
