"""Influence index end to end on the same Parquet files: ihos (DataFusion) vs
DuckDB, side by side. Reports wall time, peak memory (max RSS of the process),
rows/s, and checks that every result table is identical."""
import argparse, json, os, statistics, subprocess, sys, time

p = argparse.ArgumentParser()
p.add_argument("--ihos", required=True)
p.add_argument("--data", required=True)
p.add_argument("--year", type=int, default=2025)
p.add_argument("--events", type=int, required=True)
p.add_argument("--runs", type=int, default=3)
p.add_argument("--work", default="/tmp/ihos-bench-analytics")
a = p.parse_args()
here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(a.work, exist_ok=True)


def measure(cmd):
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out}")
    return wall, usage.ru_maxrss / 1024.0, out


df_out = os.path.join(a.work, "datafusion")
duck_out = os.path.join(a.work, "duckdb.json")
df_cmd = [a.ihos, "index", "influence", "--data", a.data, "--year", str(a.year), "--out", df_out]
duck_cmd = [sys.executable, os.path.join(here, "duckdb_run.py"), "--data", a.data, "--sql", os.path.join(df_out, "queries.sql"), "--out", duck_out]

measure(df_cmd)  # writes queries.sql; also warms the page cache for both
results = {"ihos (DataFusion)": [], "DuckDB": []}
for _ in range(a.runs):
    results["ihos (DataFusion)"].append(measure(df_cmd)[:2])
    results["DuckDB"].append(measure(duck_cmd)[:2])

print(f"influence index {a.year} over {a.events:,} events ({a.data}), {a.runs} runs each, alternating")
for name, runs in results.items():
    walls = [w for w, _ in runs]
    med = statistics.median(walls)
    print(f"  {name:18s} wall median {med:6.2f} s (min {min(walls):.2f}, max {max(walls):.2f})  "
          f"peak RSS {max(r for _, r in runs):7.0f} MiB  {a.events / med / 1e6:6.1f} M rows/s")

# Identical results: same tables, columns, rows; numbers equal to 1e-9 relative.
ours = {t["name"]: t for t in json.load(open(os.path.join(df_out, "report.json"), encoding="utf-8"))["tables"]}
theirs = json.load(open(duck_out, encoding="utf-8"))["tables"]
problems = []
for name, t in theirs.items():
    o = ours.get(name)
    if o is None or o["columns"] != t["columns"] or len(o["rows"]) != len(t["rows"]):
        problems.append(f"{name}: shape differs")
        continue
    for i, (ro, rt) in enumerate(zip(o["rows"], t["rows"])):
        for x, y in zip(ro, rt):
            same = abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y)) if isinstance(x, (int, float)) and isinstance(y, (int, float)) else x == y
            if not same:
                problems.append(f"{name} row {i}: {ro} != {rt}")
                break
cells = sum(len(t["rows"]) * len(t["columns"]) for t in theirs.values())
if problems:
    print(f"RESULTS DIFFER in {len(problems)} places:\n  " + "\n  ".join(problems[:20]))
    sys.exit(1)
print(f"results identical: {len(theirs)} tables, {cells} cells")
