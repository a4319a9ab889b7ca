"""Backup, verification and restore of one municipality (continuity app), against the engine's own tool on the
same data in the same run: pg_dump -Fc / pg_restore on PostgreSQL, SQLite's online backup API on SQLite.

Targets (issue 13): backup + verify of a 1,000,000-resident municipality ≤ 60 s; restore ≤ 60 s.
- backup_s: `write_backup(path, code)` (read, encode, digest, compress, encrypt);
- verify_s: `service.verify_file` (authenticate, scratch database, migrate, restore, recompute every digest, verify
  the audit chain, drop the scratch database);
- restore_s: `jichitai restore` into a new empty database (migrate included), as a recovery would run it.
The benchmark database holds that municipality only, so the anchor dumps exactly the same rows.

Usage: bench_backup.py [--engine sqlite|postgresql] [--persons 1000000]. Last line: one JSON object.
PostgreSQL database: $JICHITAI_BENCH_BACKUP_DB (default jichitai_bench_backup), created if missing.
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

TARGET_BACKUP_VERIFY_S = 60.0
TARGET_RESTORE_S = 60.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine (iterating)")
    ap.add_argument("--prepare-only", action="store_true", help="make the dataset (cached) and stop")
    args = ap.parse_args()

    # a database of its own: the municipality of this benchmark and nothing else
    C.PG_DB = os.environ.get("JICHITAI_BENCH_BACKUP_DB", "jichitai_bench_backup")
    C.PG_URL = f"postgres://{C.PG_USER}@{C.PG_HOST}:{C.PG_PORT}/{C.PG_DB}"
    C.BENCH_VAR = C.ROOT / "var" / "bench-backup"
    if args.engine == "sqlite":
        C.BENCH_VAR = C.BENCH_VAR / f"sqlite-{args.persons}"
    C.configure(args.engine)
    from django.conf import settings
    from django.db import connection

    from jichitai.continuity import service
    from jichitai.continuity.backup import write_backup
    from jichitai.tenancy.models import Municipality

    spec = ("40130", "福岡市", "フクオカシ", "40", "福岡県", args.persons)
    others = Municipality.objects.exclude(code=spec[0]).count()
    if others:
        raise SystemExit(f"the benchmark database holds {others} other municipalities; use an empty one")
    muni = C.ensure_municipality(spec)
    from jichitai.residents.models import Person
    from jichitai.tenancy.scope import tenant_scope

    with tenant_scope(muni):  # (row-level security: count within the municipality)
        have = Person.objects.count()
    dataset = ({"persons": have, "cached": True} if have >= args.persons
               else C.ensure_population(muni, args.persons))
    if args.prepare_only:
        C.log(f"dataset ready: {dataset}")
        return
    quiet = {"cpu_busy_before": C.cpu_busy(), "waited_s": 0, "quiet": None} if args.no_wait else C.wait_quiet()
    # the migrated template a verification copies is made once per code version (not timed with the verification;
    # reported): as in production, where the first verification after a deployment makes it
    t = time.perf_counter()
    with service.Scratch(migrated=True):
        pass
    template_s = time.perf_counter() - t
    C.log(f"verification template ready ({template_s:.1f} s; made once per code version)")
    work = Path(tempfile.mkdtemp(prefix="jichitai-bench-backup-"))
    try:
        path = work / "muni.jcbk"
        t = time.perf_counter()
        manifest = write_backup(path, muni.code)
        backup_s = time.perf_counter() - t
        rows = sum(x["rows"] for x in manifest["tables"].values())
        size_mb = round(path.stat().st_size / 1e6, 1)
        C.log(f"backup: {rows:,} rows in {backup_s:.1f} s, {size_mb} MB")
        t = time.perf_counter()
        report = service.verify_file(path)
        verify_s = time.perf_counter() - t
        C.log(f"verify: {verify_s:.1f} s ok={report.get('ok')} {report.get('error', '')}")
        with service.Scratch() as s:
            t = time.perf_counter()
            r2 = service.run_restore_child(path, s.url)
            restore_s = time.perf_counter() - t
        C.log(f"restore into an empty database: {restore_s:.1f} s ok={r2.get('ok')}")

        if connection.vendor == "postgresql":
            bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
            dump = work / "anchor.dump"
            base = ["-h", C.PG_HOST, "-p", str(C.PG_PORT), "-U", C.PG_USER]
            t = time.perf_counter()
            subprocess.run([str(bindir / "pg_dump"), *base, "-Fc", "-Z", "1", "-f", str(dump), C.PG_DB], check=True)
            anchor_dump_s = time.perf_counter() - t
            target = f"{C.PG_DB}_anchor"
            subprocess.run([str(bindir / "dropdb"), *base, "--if-exists", target], check=True)
            subprocess.run([str(bindir / "createdb"), *base, target], check=True)
            t = time.perf_counter()
            subprocess.run([str(bindir / "pg_restore"), *base, "-d", target, str(dump)], check=True)
            anchor_restore_s = time.perf_counter() - t
            subprocess.run([str(bindir / "dropdb"), *base, target], check=True)
            anchor = "pg_dump -Fc -Z1 / pg_restore (single job)"
        else:
            src = sqlite3.connect(settings.DATABASES["default"]["NAME"])
            copy = work / "anchor.sqlite3"
            t = time.perf_counter()
            dst = sqlite3.connect(copy)
            src.backup(dst)
            dst.close()
            anchor_dump_s = time.perf_counter() - t
            t = time.perf_counter()
            back = sqlite3.connect(work / "anchor-restored.sqlite3")
            sqlite3.connect(copy).backup(back)
            back.close()
            anchor_restore_s = time.perf_counter() - t
            src.close()
            anchor = "sqlite3 online backup API (Connection.backup) to a file and back"
        C.log(f"anchor ({anchor}): dump {anchor_dump_s:.1f} s, restore {anchor_restore_s:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    figures = {
        "backup_s": round(backup_s, 2), "verify_s": round(verify_s, 2),
        "backup_verify_s": round(backup_s + verify_s, 2), "restore_s": round(restore_s, 2),
        "rows": rows, "tables": len(manifest["tables"]), "file_mb": size_mb,
        "anchor": anchor, "anchor_dump_s": round(anchor_dump_s, 2), "anchor_restore_s": round(anchor_restore_s, 2),
        "ratio_backup_to_anchor_dump": round(backup_s / anchor_dump_s, 2),
        "ratio_restore_to_anchor_restore": round(restore_s / anchor_restore_s, 2),
        "verified": bool(report.get("ok")) and bool(r2.get("ok")),
        "verify_phases_s": report.get("timings"), "restore_phases_s": r2.get("timings"),
        "template_once_per_code_version_s": round(template_s, 2),
    }
    met = (figures["verified"] and figures["backup_verify_s"] <= TARGET_BACKUP_VERIFY_S
           and figures["restore_s"] <= TARGET_RESTORE_S)
    # (the persons actually in the backup: the manifest's count, whatever the dataset helper reported)
    dataset["persons"] = manifest["residents_by_code"].get(muni.code, dataset.get("persons"))
    C.emit({"name": "backup", "dataset": {"engine": args.engine, "municipality": muni.code, **dataset},
            "figures": figures, "targets": {"backup_verify_s": TARGET_BACKUP_VERIFY_S,
                                            "restore_s": TARGET_RESTORE_S},
            "met": met, "machine": C.machine(), "calibration": quiet})


if __name__ == "__main__":
    main()
