"""Legacy migration of 1,000,000 persons: decode (CP932 fixed width), validate, map 外字, compute search keys, load
(executemany on SQLite, COPY on PostgreSQL) into the indexed register, in resumable chunks.

Input: examples/generate.py's vendor A layout, 1,000,000 rows in households, about 2% of households with approved
外字 (F040 → 髙, F041 → 𠮷) and about 3% 除票 rows, each row with its last 異動 (history row written per person).
The file is generated once and cached under var/bench/. The import target is its own municipality (43100 熊本市),
emptied before each run. Target: ≤ 60 s per engine.

Usage: bench_import.py [--engine sqlite|postgresql] [--rows N] [--workers W] [--chunk-size C]
Last line: one JSON object {"name", "dataset", "figures", "targets", "met"}.
"""
import argparse
import importlib.util
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

TARGET_S = 60.0
SPEC = ("43100", "熊本市", "クマモトシ", "43", "熊本県", 1_000_000)
VENDOR = "kotobuki"


def _generator():
    spec = importlib.util.spec_from_file_location("legacy_generate", C.ROOT / "examples" / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def ensure_file(rows: int) -> Path:
    path = C.BENCH_VAR / f"legacy_a_{rows}.dat"
    if path.exists():
        C.log(f"input: {path} (cached, {path.stat().st_size / 1e6:.0f} MB)")
        return path
    C.BENCH_VAR.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    n = _generator().generate_bulk("a", rows, seed=7, out=tmp)
    tmp.rename(path)
    C.log(f"input: generated {n:,} rows in {time.perf_counter() - t:.0f} s → {path}")
    return path


def reset(municipality):
    """Empty the import target through the one sanctioned purge path (history and audit rows included)."""
    from jichitai.guard.purge import purge_municipality

    purge_municipality(municipality, reason="bench_import: the target is emptied before each run")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=20_000)
    args = ap.parse_args()
    path = ensure_file(args.rows)
    C.configure(args.engine)
    quiet = C.wait_quiet(max_wait=60)
    from django.db import connection

    from jichitai.gaiji.models import GaijiMapping
    from jichitai.migration.importer import Importer
    from jichitai.migration.layout import load_layout
    from jichitai.residents.models import Person
    from jichitai.tenancy.scope import tenant_scope

    m = C.ensure_municipality(SPEC)
    t = time.perf_counter()
    reset(m)
    C.log(f"target {m.code} {m.name} emptied ({time.perf_counter() - t:.1f} s)")
    gen = _generator()
    import codecs

    with tenant_scope(m):
        for sjis, text, ev in gen.APPROVALS["a"]:
            GaijiMapping.objects.create(pua_char=codecs.decode(bytes.fromhex(sjis), "cp932"), sjis_code=sjis,
                                        vendor=VENDOR, mapped_text=text, status="approved", evidence=ev)
    layout = load_layout(C.ROOT / "examples" / "vendor_a.toml")
    t0 = time.perf_counter()
    data = path.read_bytes()
    t_read = time.perf_counter() - t0
    with tenant_scope(m):
        imp = Importer(m, layout, VENDOR, data, input_name=str(path), chunk_size=args.chunk_size,
                       workers=args.workers, progress=C.log)
        rep = imp.run()
    connection.ensure_connection()
    t_import = time.perf_counter() - t0
    t = time.perf_counter()
    C.analyze()
    t_analyze = time.perf_counter() - t
    total = t_import + t_analyze
    n = Person.all_tenants.filter(municipality=m).count()
    c = rep["counts"]
    C.log(f"imported {c['imported']:,} of {c['read']:,} rows (rejected {c['rejected']}, held {c['held']}) in "
          f"{t_import:.1f} s + ANALYZE {t_analyze:.1f} s = {total:.1f} s ({c['imported'] / total:,.0f} persons/s)")
    figures = {"engine": args.engine, "rows": c["read"], "imported": c["imported"], "rejected": c["rejected"],
               "held": c["held"], "persons_in_db": n, "seconds_total": round(total, 1),
               "seconds_read_file": round(t_read, 2), "seconds_import": round(t_import, 1),
               "seconds_analyze": round(t_analyze, 1), "persons_per_s": round(c["imported"] / total),
               "gaiji_mapped": rep["gaiji_mapped_by_evidence"], "phases": rep["this_run"]["timings"],
               "workers": args.workers, "chunk_size": args.chunk_size, "machine": C.machine(), "quiet": quiet}
    ok = total <= TARGET_S and c["imported"] == args.rows
    C.emit({"name": "bench-import", "dataset": f"{args.rows:,} legacy rows (vendor A layout, 外字, 除票) → "
                                               f"{m.code} {m.name}",
            "figures": figures, "targets": {"seconds_total_max": TARGET_S, "all_rows_imported": True},
            "met": ok})


if __name__ == "__main__":
    main()
