"""Export of a 1,000,000-person municipality (福岡市 40130, the cached search dataset) in the standard layout
(jichitai.interchange.export.export_municipality: plain cursors — server-side on PostgreSQL — and the csv module,
no ORM object per row). Targets (issue #11 item 8): ≤ 20 s for the whole export (all files, schemas, sha256 and
manifest), and ≤ 2× the anchor measured in the same run: the same three tables (households, persons, history) of
the municipality dumped as they are stored, by `COPY (SELECT * …) TO STDOUT (FORMAT csv)` on PostgreSQL and, SQLite
having no COPY, by `SELECT *` through the sqlite3 cursor into csv.writer.writerows on SQLite — the cheapest way each
engine has to get the rows to a file, without the layout's formatting, the read policy or the checksums.

Usage: bench_export.py [--engine sqlite|postgresql] [--keep]. The export goes to var/bench/export-<engine>/ and is
removed afterwards unless --keep. The last line printed is one JSON object.
"""
import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

TARGET_S = 20.0
TARGET_RATIO = 2.0
ANCHOR_TABLES = ("residents_household", "residents_person", "residents_personhistory")


def copy_anchor(m_id: int, out: Path) -> dict:
    """The anchor: dump the municipality's rows of ANCHOR_TABLES to CSV files in `out`, the cheapest way the engine
    has (PostgreSQL COPY TO, SQLite SELECT * → csv.writer). Returns seconds and bytes per table."""
    import csv

    from django.db import connection

    from jichitai.guard.db import sync

    out.mkdir(parents=True, exist_ok=True)
    res = {}
    connection.ensure_connection()
    sync(connection)  # the raw cursor below runs with the session settings of the municipality in scope
    for table in ANCHOR_TABLES:
        path = out / f"{table}.csv"
        t = time.perf_counter()
        if connection.vendor == "postgresql":
            raw = connection.connection
            with raw.cursor() as cur, open(path, "wb") as f:
                with cur.copy(f'COPY (SELECT * FROM "{table}" WHERE municipality_id = {int(m_id)}) '
                              f"TO STDOUT (FORMAT csv, HEADER)") as copy:
                    for block in copy:
                        f.write(block)
        else:
            raw = connection.connection
            cur = raw.execute(f'SELECT * FROM "{table}" WHERE municipality_id = ?', (m_id,))
            with open(path, "w", encoding="utf-8", newline="") as f:
                w = csv.writer(f)
                w.writerow([d[0] for d in cur.description])
                while True:
                    rows = cur.fetchmany(5000)
                    if not rows:
                        break
                    w.writerows(rows)
        res[table] = {"s": round(time.perf_counter() - t, 2), "mb": round(path.stat().st_size / 1e6, 1)}
    res["total_s"] = round(sum(v["s"] for v in res.values()), 2)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--keep", action="store_true", help="keep the exported files")
    args = ap.parse_args()

    C.configure(args.engine)
    from jichitai.interchange.export import export_municipality
    from jichitai.privacy import policy
    from jichitai.tenancy.scope import tenant_scope

    muni = C.ensure_municipality(C.BIG)
    dataset = C.ensure_population(muni, C.BIG[5])
    out = C.BENCH_VAR / f"export-{args.engine}"
    shutil.rmtree(out, ignore_errors=True)
    quiet = C.wait_quiet()

    started = time.perf_counter()
    marks = {}

    def progress(label, n):
        el = time.perf_counter() - started
        marks[label] = round(el, 2)
        C.log(f"  {el:6.1f} s  {label}: {n:,} rows")

    C.log(f"exporting {muni.name} ({muni.code}) to {out} …")
    with tenant_scope(muni):
        manifest = export_municipality(out, reader=policy.for_export(None, include_protected_addresses=True,
                                                                     system=True),
                                       terminal="bench", progress=progress)
    total = time.perf_counter() - started
    C.log("anchor: the same tables dumped by " + ("COPY … TO STDOUT" if args.engine == "postgresql" else
                                                  "SELECT * → csv.writer") + " …")
    with tenant_scope(muni):
        anchor = copy_anchor(muni.pk, out / "_anchor")
    ratio = round(total / anchor["total_s"], 2) if anchor["total_s"] else None
    C.log(f"anchor: {anchor}; export / anchor = {ratio}")
    rows = {r["name"]: r["rows"] for r in manifest["resources"]}
    size = sum(r["bytes"] for r in manifest["resources"])
    C.log(f"done in {total:.1f} s: {rows}, {size / 1e6:,.0f} MB")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    figures = {
        "export_s": round(total, 2),
        "persons_per_s": round(rows["persons"] / total),
        "rows": rows,
        "csv_mb": round(size / 1e6, 1),
        "elapsed_at_s": marks,
        "anchor": {"what": ("COPY (SELECT * FROM t WHERE municipality_id = …) TO STDOUT (FORMAT csv)"
                            if args.engine == "postgresql" else "SELECT * … → csv.writer.writerows (sqlite3)"),
                   "tables": list(ANCHOR_TABLES), **anchor},
        "ratio_export_to_anchor": ratio,
    }
    C.emit({
        "name": "export", "engine": args.engine,
        "dataset": {"municipality": muni.code, "persons": dataset["persons"], "cached": dataset["cached"]},
        "figures": figures,
        "targets": {"export_s": f"<= {TARGET_S}", "ratio_export_to_anchor": f"<= {TARGET_RATIO}"},
        "met": total <= TARGET_S and ratio is not None and ratio <= TARGET_RATIO,
        "machine": C.machine(), "quiet": quiet,
    })


if __name__ == "__main__":
    main()
