#!/usr/bin/env python3
"""What one chat message costs SQLite, by index layout (run by hand).

    python3 bench/sqlite/index_cost.py

1,000 consultations, a patient and a doctor message each per transaction
(2,000 messages, as the chat's group commit writes them in the closed-loop
benchmark), WAL, synchronous=NORMAL, no automatic checkpoint. Client ids are
shaped as the benchmark's (`patient-<run>-<n>`): time-ordered, as our page's
`c-<time>-<random>` are. Prints the time and the WAL bytes per message after
100 warm-up transactions.
"""
import os
import sqlite3
import tempfile
import time
import uuid

COLUMNS = ("consultation_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, "
           "sender_id TEXT NOT NULL, sender_role TEXT NOT NULL, client_id TEXT NOT NULL, "
           "kind TEXT NOT NULL, body TEXT, attachment_id TEXT, created_at INTEGER NOT NULL")
LAYOUTS = {
    # The UNIQUE index on the time-ordered message id only appends, so it is
    # left out of every layout here.
    "ihos until migration 0010: PK (consultation, seq) + UNIQUE (consultation, sender, client id)":
        f"CREATE TABLE m ({COLUMNS}, PRIMARY KEY (consultation_id, seq), "
        "UNIQUE (consultation_id, sender_id, client_id))",
    "ihos since migration 0010: PK (consultation, seq) + UNIQUE (client id, sender, consultation)":
        f"CREATE TABLE m ({COLUMNS}, PRIMARY KEY (consultation_id, seq)); "
        "CREATE UNIQUE INDEX u ON m (client_id, sender_id, consultation_id)",
    "PK (consultation, seq) only":
        f"CREATE TABLE m ({COLUMNS}, PRIMARY KEY (consultation_id, seq))",
    "clustered by (consultation, seq), WITHOUT ROWID, + UNIQUE":
        f"CREATE TABLE m ({COLUMNS}, PRIMARY KEY (consultation_id, seq), "
        "UNIQUE (consultation_id, sender_id, client_id)) WITHOUT ROWID",
    "no index but the rowid (an append-only log)": f"CREATE TABLE m ({COLUMNS})",
}


def measure(ddl: str, path: str, random_client_ids: bool = False) -> tuple[float, float]:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "wal_autocheckpoint=0",
                   "cache_size=-65536"):
        db.execute(f"PRAGMA {pragma}")
    db.executescript(ddl)
    consultations = [str(uuid.uuid4()) for _ in range(1000)]
    patients = [str(uuid.uuid4()) for _ in range(1000)]
    doctors = [str(uuid.uuid4()) for _ in range(50)]
    seq = dict.fromkeys(consultations, 0)

    def write(round_no: int) -> float:
        rows = []
        for i, c in enumerate(consultations):
            for role, sender in (("patient", patients[i]), ("doctor", doctors[i % 50])):
                seq[c] += 1
                rows.append((c, seq[c], str(uuid.uuid4()), sender, role,
                             str(uuid.uuid4()) if random_client_ids else f"{role}-1764123-{round_no}",
                             "text",
                             "t123456789-血糖复查结果已上传请医生查看", None, 1764123000000))
        t = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO m VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING", rows)
        db.execute("COMMIT")
        return time.perf_counter() - t

    for r in range(100):
        write(r)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal_before = os.path.getsize(path + "-wal")
    rounds = 30
    spent = sum(write(r) for r in range(100, 100 + rounds))
    wal = os.path.getsize(path + "-wal") - wal_before
    db.close()
    return spent / rounds / 2000 * 1e6, wal / rounds / 2000


for name, ddl in LAYOUTS.items():
    with tempfile.TemporaryDirectory() as d:
        us, wal = measure(ddl, os.path.join(d, "t.db"))
    print(f"{us:6.1f} µs/message, {wal:7.0f} WAL bytes/message  {name}")
# Random client ids (UUIDv4), for both key orders of the idempotency index.
for name, ddl in list(LAYOUTS.items())[:2]:
    with tempfile.TemporaryDirectory() as d:
        us, wal = measure(ddl, os.path.join(d, "t.db"), random_client_ids=True)
    print(f"{us:6.1f} µs/message, {wal:7.0f} WAL bytes/message  {name}, random client ids")
