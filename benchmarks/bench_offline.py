"""The offline kit (#13): building the kit for a 100,000-resident municipality (target ≤ 30 s) and syncing back
10,000 offline events (target ≤ 10 s), each beside its anchor measured in the same run:
  * build   — the engine's own copy of the whole database: SQLite's online backup API / pg_dump -Fc;
  * sync    — inserting the same 10,000 rows with one executemany (what applying them costs at the least).
The offline events are made for real: the kit is opened and 10,000 届出 are received through
offline.queue_intake in the kit's own process (not measured), then exported (measured, reported).

Usage: bench_offline.py [--engine sqlite|postgresql] [--persons N] [--events N]. Last line: one JSON object.
"""
import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

# its own municipality: bench-import fills (and empties) 熊本市 43100 with 1,000,000 persons, so sharing it made a run
# after bench-import (`make bench` runs it first) build a kit of 1,000,000 persons instead of 100,000
SPEC = ("43202", "八代市", "ヤツシロシ", "43", "熊本県", 100_000)
PASS = "benchmark kit passphrase"
BUILD_TARGET_S, SYNC_TARGET_S = 30.0, 10.0

WORK = """
from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.scope import tenant_scope
from jichitai.continuity import offline
m = Municipality.objects.get(code='{code}')
u = StaffUser.objects.get(username='{user}')
with tenant_scope(m):
    for i in range({n}):
        offline.queue_intake(u, kind='other', atena_no='', notifier=f'届出人{{i}}', memo=f'避難所での受付 {{i}}')
"""


def cpu_calibration(rounds=20):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        s = 0
        for i in range(1_000_000):
            s += i
        times.append(time.perf_counter() - t)
    times.sort()
    return {"calibration_loop_p50_ms": round(C.percentile(times, 50) * 1000, 1)}


def anchor_copy(engine, tmp) -> float:
    from django.db import connection

    t = time.perf_counter()
    if engine == "sqlite":
        src = sqlite3.connect(connection.settings_dict["NAME"])
        dst = sqlite3.connect(tmp / "anchor.sqlite3")
        src.backup(dst)
        dst.close()
        src.close()
    else:
        subprocess.run(["pg_dump", "-Fc", "-h", C.PG_HOST, "-U", C.PG_USER, "-f", str(tmp / "anchor.dump"), C.PG_DB],
                       check=True)
    return time.perf_counter() - t


def anchor_insert(n) -> float:
    from django.db import connection, transaction

    rows = [(f"00000000-0000-0000-0000-{i:012d}", "届出人", "避難所での受付") for i in range(n)]
    with transaction.atomic(), connection.cursor() as c:
        c.execute("CREATE TEMPORARY TABLE bench_anchor (uuid varchar(36), notifier varchar(100), memo text)")
        t = time.perf_counter()
        c.executemany("INSERT INTO bench_anchor VALUES (%s, %s, %s)", rows)
        took = time.perf_counter() - t
        c.execute("DROP TABLE bench_anchor")
    return took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--persons", type=int, default=SPEC[5])
    ap.add_argument("--events", type=int, default=10_000)
    args = ap.parse_args()

    C.configure(args.engine)
    from jichitai.continuity import offline
    from jichitai.tenancy.scope import tenant_scope

    spec = (*SPEC[:5], args.persons)
    muni = C.ensure_municipality(spec)
    dataset = C.ensure_population(muni, args.persons)
    [admin] = C.ensure_staff(muni, f"bench-off-{muni.code}-", 1, role="admin")
    tmp = Path(tempfile.mkdtemp(prefix="bench-offline-"))
    try:
        quiet = C.wait_quiet()
        calibration = cpu_calibration()
        device = f"bench-{int(time.time())}"
        C.log(f"building the kit for {muni.name} ({dataset['persons']:,} persons) …")
        t = time.perf_counter()
        with tenant_scope(muni):
            summary = offline.build_kit(admin, device=device, passphrase=PASS, out_path=tmp / "kit.jck",
                                        block_size=1000, terminal="bench")
        build_s = time.perf_counter() - t
        C.log(f"  {build_s:.1f} s {summary['seconds']}, {summary['bytes'] / 1e6:.0f} MB")
        anchor_build_s = anchor_copy(args.engine, tmp)
        C.log(f"  anchor (whole-database copy): {anchor_build_s:.1f} s")

        t = time.perf_counter()
        offline.open_kit(tmp / "kit.jck", PASS, tmp / "laptop")
        open_s = time.perf_counter() - t
        env = offline.kit_env(tmp / "laptop")
        C.log(f"receiving {args.events:,} 届出 offline in the kit (setup, not measured) …")
        subprocess.run([sys.executable, "-m", "jichitai.cli", "shell", "-c",
                        WORK.format(code=muni.code, user=admin.username, n=args.events)], env=env, check=True)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jichitai.cli", "offline", "export", "--dir", str(tmp / "laptop"),
                        "--out", str(tmp / "sync.jcsync")], env=env, check=True, capture_output=True)
        export_s = time.perf_counter() - t
        C.log(f"syncing {args.events:,} events back …")
        t = time.perf_counter()
        with tenant_scope(muni):
            result = offline.sync_file(admin, tmp / "sync.jcsync", terminal="bench")
        sync_s = time.perf_counter() - t
        C.log(f"  {sync_s:.1f} s {result}")
        anchor_sync_s = anchor_insert(args.events)
        figures = {"build_s": round(build_s, 2), "build_breakdown_s": summary["seconds"],
                   "kit_mb": round(summary["bytes"] / 1e6, 1), "anchor_build_s": round(anchor_build_s, 2),
                   "build_over_anchor": round(build_s / anchor_build_s, 2), "open_s": round(open_s, 2),
                   "export_s": round(export_s, 2), "sync_s": round(sync_s, 2), "sync_events": result["events"],
                   "events_per_s": round(result["events"] / sync_s), "anchor_sync_s": round(anchor_sync_s, 3),
                   "sync_over_anchor": round(sync_s / anchor_sync_s, 1), **calibration}
        C.emit({"name": "offline", "engine": args.engine,
                "dataset": {"municipality": muni.code, "persons": dataset["persons"], "events": args.events},
                "figures": figures,
                "targets": {"build_s": f"<= {BUILD_TARGET_S}", "sync_s": f"<= {SYNC_TARGET_S}"},
                "met": build_s <= BUILD_TARGET_S and sync_s <= SYNC_TARGET_S,
                "machine": C.machine(), "quiet": quiet})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
