"""Run the influence-index SQL (written by `ihos index influence` to queries.sql)
in DuckDB over the same Parquet files; write the result tables as JSON."""
import argparse, json, re, time

import duckdb

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--sql", required=True)
p.add_argument("--out", required=True)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()

t0 = time.perf_counter()
con = duckdb.connect()
con.execute(f"SET threads = {a.threads}")
con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{a.data}/events/*/*/*.parquet', hive_partitioning = true)")
for dim in ("hospitals", "departments", "doctors"):
    con.execute(f"CREATE VIEW {dim} AS SELECT * FROM read_parquet('{a.data}/dim/{dim}.parquet')")

tables = {}
for chunk in open(a.sql, encoding="utf-8").read().split(";\n"):
    lines = [l for l in chunk.strip().splitlines() if l.strip()]
    if not lines:
        continue
    name = lines[0].removeprefix("-- ").strip()
    sql = "\n".join(l for l in lines if not l.startswith("--"))
    if re.match(r"\s*CREATE TABLE", sql):
        con.execute(sql)
    else:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        rows = [[(int(v) if isinstance(v, int) else v) for v in r] for r in cur.fetchall()]
        tables[name] = {"columns": cols, "rows": rows}
elapsed = time.perf_counter() - t0
json.dump({"seconds": elapsed, "tables": tables}, open(a.out, "w", encoding="utf-8"), ensure_ascii=False, default=float)
print(f"duckdb {duckdb.__version__}: {elapsed:.2f} s")
