"""Export of a 1,000,000-person municipality (福岡市 40130, the cached search dataset) in the standard layout
(jichitai.interchange.export.export_municipality: plain cursors — server-side on PostgreSQL — and the csv module,
no ORM object per row). Target: ≤ 20 s for the whole export (all files, schemas, sha256 and manifest).

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
    }
    C.emit({
        "name": "export", "engine": args.engine,
        "dataset": {"municipality": muni.code, "persons": dataset["persons"], "cached": dataset["cached"]},
        "figures": figures,
        "targets": {"export_s": f"<= {TARGET_S}"},
        "met": total <= TARGET_S,
        "machine": C.machine(), "quiet": quiet,
    })


if __name__ == "__main__":
    main()
