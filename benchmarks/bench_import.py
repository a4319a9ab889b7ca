"""Legacy migration of 1,000,000 persons: decode (CP932 fixed width), validate, map 外字, compute search keys, load
(executemany on SQLite, COPY on PostgreSQL) into the indexed register, in resumable chunks.

Input (default, `--layout c`, what issue #11 item 8 asks): a file in examples/vendor_c.toml's layout v2 (header,
住民 and 除票 record types, one record per person per history generation, trailer with record count, hash total and
byte sum) with 1,000,000 persons: 1–4 generations each (≈ 2.2 records per person), 転入 / 出生 then 転居 /
世帯主変更 / 職権修正 with their own 異動事由, about 2% of households with 外字 of the vendor's 外字対応表 (F040 → 髙,
F041 → 𠮷, F042 → 邉 with IVS, all approved), about 3% of persons whose newest generation is a 除票 (death) record,
and 町字コード / 最終更新日 kept as extra attributes. `--layout a`: the older vendor A file (one row per person).
The file is generated once and cached under var/bench/. The import target is its own municipality (43100 熊本市),
emptied before each run. Targets: ≤ 60 s per engine, and ≤ 3× the anchor (load_anchor) measured in the same run.

Usage: bench_import.py [--engine sqlite|postgresql] [--persons N] [--layout c|a] [--workers W] [--chunk-size C]
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


def generate_c(persons: int, out: Path, seed=11) -> dict:
    """The vendor C bulk file: `persons` persons in households of 1–5, each with 1–4 generations."""
    import datetime as dt

    gen = _generator()
    g = gen.GenC(seed)
    rng = g.rng
    towns = gen.TOWNS["a"]
    fam = gen.FAMILY
    pua = [p for _s, p, *_r in gen.GAIJI_C[:3]]
    # every generation's change kind and date (compact 和暦; the later ones in 令和 = 5, or the era overflow
    # 平成31年5月 … the vendor writes for some of them)
    later = [("D1", "4280301"), ("C1", "4300401"), ("C2", "4320301"), ("C1", "5020601"), ("E2", "5040901")]
    counts = {"persons": 0, "records": 0, "generations": {}, "removed": 0, "gaiji_households": 0}
    with open(out, "wb") as f:
        buf = [g.rec("H", {"created": "20260115", "municipality": "431001"})]
        n_data, code_total, byte_sum = 0, 0, 0
        while counts["persons"] < persons:
            g.household_no += 1
            hh = g.household_no
            family = rng.choice(fam)
            if rng.random() < 0.02:
                family = (rng.choice(pua) + family[0][1:], family[1])
                counts["gaiji_households"] += 1
            addr = f"{rng.choice(towns)}{rng.randint(1, 5)}丁目{rng.randint(1, 30)}番"
            size = min(rng.choice([1, 1, 2, 2, 3, 4, 5]), persons - counts["persons"])
            for k in range(size):
                rel = "世帯主" if k == 0 else rng.choice(["妻", "子", "子", "母"])
                born = g.rand_date(1940, 1990) if k == 0 or rel in ("妻", "母") else g.rand_date(1991, 2015)
                v = g.person(hh, rel, family, "1" if k == 0 else rng.choice("12"), born)
                first = ("A1", "4220401") if k == 0 or rel != "子" else ("B1", v["birth_date"])
                gens = [(first[0], first[1], addr, {})]
                for code, when in sorted(rng.sample(later, rng.choice([0, 0, 1, 1, 2, 3])),
                                         key=later.index):  # in date order
                    gens.append((code, when, addr, {}))
                if k > 0 and rng.random() < 0.03:
                    gens = gens[-3:]  # the vendor keeps the latest four generations
                    gens.append(("X2", "5050105", addr, {}))
                    counts["removed"] += 1
                for i, (code, when, address, extra) in enumerate(gens, start=1):
                    rec = g.rec("2" if code.startswith("X") else "1",
                                dict(v, generation=f"{i:02d}", change_kind=code, change_date=when,
                                     notification_date=when, address=address, **extra))
                    buf.append(rec)
                    n_data += 1
                    code_total += int(rec[23:34])
                    byte_sum += sum(rec)
                counts["generations"][len(gens)] = counts["generations"].get(len(gens), 0) + 1
                counts["persons"] += 1
            if len(buf) > 20000:
                f.write(b"".join(r + b"\r\n" for r in buf))
                buf.clear()
        buf.append(g.rec("9", {"record_count": f"{n_data:08d}", "resident_code_total": f"{code_total % 10**15:015d}",
                               "byte_sum": f"{byte_sum % 10**12:012d}"}))
        f.write(b"".join(r + b"\r\n" for r in buf))
    counts["records"] = n_data + 2
    return counts


def ensure_file(rows: int, layout: str = "a") -> Path:
    if layout == "c":
        import json

        path = C.BENCH_VAR / f"legacy_c_{rows}.dat"
        meta = path.with_suffix(".json")
        if path.exists() and meta.exists():
            C.log(f"input: {path} (cached, {path.stat().st_size / 1e6:.0f} MB)")
            return path
        C.BENCH_VAR.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        counts = generate_c(rows, tmp)
        tmp.rename(path)
        meta.write_text(json.dumps(counts))
        C.log(f"input: generated {counts} in {time.perf_counter() - t:.0f} s → {path}")
        return path
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


ANCHOR_MODELS = ("residents.Household", "residents.Person", "residents.PersonHistory", "legacy_migration.LegacyKey",
                 "legacy_migration.PersonExtra")  # what the import writes per person (its final rows)
TARGET_RATIO = 3.0


def analyze_written_tables():
    """ANALYZE the tables the import wrote (statistics for the planner, as after a bulk load), not the whole
    benchmark database (which also holds the 1,000,000 persons of the search benchmarks)."""
    from django.apps import apps
    from django.db import connection

    from jichitai.guard.db import owner_session

    with owner_session("bench_import: ANALYZE the tables the import wrote"), connection.cursor() as c:
        for label in ANCHOR_MODELS:
            c.execute(f'ANALYZE "{apps.get_model(label)._meta.db_table}"')


def load_anchor(m_id: int) -> dict:
    """The anchor (issue #11 item 8): load the import's own final rows into empty copies of the same tables with the
    same indexes, the cheapest way the engine has — PostgreSQL: `COPY … FROM STDIN` of the rows (read beforehand by
    COPY TO, not timed) into `CREATE TABLE … (LIKE t INCLUDING ALL)`; SQLite: `executemany` of the rows (read
    beforehand, not timed) in one transaction on the product's own connection (WAL, synchronous=NORMAL) into tables
    created from the originals' own CREATE TABLE / CREATE INDEX statements. Timed: the loading and indexing (COPY /
    executemany and COMMIT). The copies are dropped afterwards."""
    import io
    import re

    from django.apps import apps
    from django.db import connection

    from jichitai.guard.db import owner_session, sync

    res = {}
    ANCHOR_TABLES = [apps.get_model(label)._meta.db_table for label in ANCHOR_MODELS]
    with owner_session("bench_import: the anchor's scratch copies of the register tables (DDL, COPY)"):
        connection.ensure_connection()
        sync(connection)
        raw = connection.connection
        tables = [t for t in ANCHOR_TABLES if t in connection.introspection.table_names()]
        data, t_load = {}, 0.0
        if connection.vendor == "postgresql":
            with raw.cursor() as cur:
                for t in tables:
                    buf = io.BytesIO()
                    with cur.copy(f'COPY (SELECT * FROM "{t}" WHERE municipality_id = {int(m_id)}) TO STDOUT') as cp:
                        for block in cp:
                            buf.write(block)
                    data[t] = buf.getvalue()
                    cur.execute(f'DROP TABLE IF EXISTS "anchor_{t}"')
                    cur.execute(f'CREATE TABLE "anchor_{t}" (LIKE "{t}" INCLUDING ALL)')
            raw.commit()
            t0 = time.perf_counter()
            with raw.cursor() as cur:
                for t in tables:
                    t1 = time.perf_counter()
                    with cur.copy(f'COPY "anchor_{t}" FROM STDIN') as cp:
                        mv = memoryview(data[t])
                        for i in range(0, len(mv), 1 << 20):
                            cp.write(mv[i:i + (1 << 20)])
                    res[t] = {"s": round(time.perf_counter() - t1, 2), "mb": round(len(data[t]) / 1e6, 1)}
            raw.commit()
            t_load = time.perf_counter() - t0
            with raw.cursor() as cur:
                for t in tables:
                    cur.execute(f'DROP TABLE "anchor_{t}"')
            raw.commit()
        else:
            for t in tables:
                data[t] = raw.execute(f'SELECT * FROM "{t}" WHERE municipality_id = ?', (m_id,)).fetchall()
                raw.execute(f'DROP TABLE IF EXISTS "anchor_{t}"')
                ddl = raw.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (t,)).fetchone()[0]
                raw.execute(ddl.replace(f'"{t}"', f'"anchor_{t}"', 1))
                for (name, sql) in raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                                               "tbl_name = ? AND sql IS NOT NULL", (t,)).fetchall():
                    sql = sql.replace(f'"{name}"', f'"anchor_{name}"', 1)
                    raw.execute(re.sub(rf'ON "{t}"', f'ON "anchor_{t}"', sql, count=1))
            raw.commit()
            t0 = time.perf_counter()
            raw.execute("BEGIN")  # (Django's sqlite3 connection is in autocommit mode: one transaction, as the import)
            for t in tables:
                t1 = time.perf_counter()
                if data[t]:
                    ph = ", ".join("?" * len(data[t][0]))
                    raw.executemany(f'INSERT INTO "anchor_{t}" VALUES ({ph})', data[t])
                res[t] = {"s": round(time.perf_counter() - t1, 2), "rows": len(data[t])}
            raw.commit()
            t_load = time.perf_counter() - t0
            for t in tables:
                raw.execute(f'DROP TABLE "anchor_{t}"')
            raw.commit()
    res["rows"] = {t: (len(data[t]) if isinstance(data[t], list) else data[t].count(b"\n")) for t in tables}
    res["total_s"] = round(t_load, 2)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--persons", "--rows", dest="rows", type=int, default=1_000_000,
                    help="persons in the file (layout a: rows)")
    ap.add_argument("--layout", choices=["c", "a"], default="c",
                    help="c: vendor C, layout v2 with generations (default); a: vendor A, one row per person")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=20_000)
    args = ap.parse_args()
    path = ensure_file(args.rows, args.layout)
    vendor = VENDOR if args.layout == "a" else "himawari"
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
        for sjis, text, ev in gen.APPROVALS[args.layout]:
            GaijiMapping.objects.get_or_create(pua_char=codecs.decode(bytes.fromhex(sjis), "cp932"), sjis_code=sjis,
                                               vendor=vendor, defaults={"mapped_text": text, "status": "approved",
                                                                        "evidence": ev})
    layout = load_layout(C.ROOT / "examples" / f"vendor_{args.layout}.toml")
    t0 = time.perf_counter()
    data = path.read_bytes()
    t_read = time.perf_counter() - t0
    with tenant_scope(m):
        imp = Importer(m, layout, vendor, data, input_name=str(path), chunk_size=args.chunk_size,
                       workers=args.workers, progress=C.log)
        rep = imp.run()
    connection.ensure_connection()
    t_import = time.perf_counter() - t0
    t = time.perf_counter()
    analyze_written_tables()
    t_analyze = time.perf_counter() - t
    total = t_import + t_analyze
    n = Person.all_tenants.filter(municipality=m).count()
    C.log("anchor: the same final rows loaded by " + ("COPY FROM STDIN" if args.engine == "postgresql" else
                                                      "executemany") + " into indexed copies of the tables …")
    anchor = load_anchor(m.pk)
    ratio = round(total / anchor["total_s"], 2) if anchor["total_s"] else None
    C.log(f"anchor: {anchor}; import / anchor = {ratio}")
    c = rep["counts"]
    C.log(f"imported {c['imported']:,} of {c['read']:,} rows (rejected {c['rejected']}, held {c['held']}) in "
          f"{t_import:.1f} s + ANALYZE {t_analyze:.1f} s = {total:.1f} s ({c['imported'] / total:,.0f} persons/s)")
    figures = {"engine": args.engine, "layout": args.layout, "persons_in_file": args.rows, "rows": c["read"],
               "history_lines": c.get("history_lines"), "status": rep.get("status"),
               "complete": c.get("complete"), "imported": c["imported"], "rejected": c["rejected"],
               "held": c["held"], "persons_in_db": n, "seconds_total": round(total, 1),
               "seconds_read_file": round(t_read, 2), "seconds_import": round(t_import, 1),
               "seconds_analyze": round(t_analyze, 1), "persons_per_s": round(c["imported"] / total),
               "gaiji_mapped": rep["gaiji_mapped_by_evidence"], "phases": rep["this_run"]["timings"],
               "workers": args.workers, "chunk_size": args.chunk_size, "machine": C.machine(), "quiet": quiet,
               "anchor": {"what": ("COPY FROM STDIN into CREATE TABLE … (LIKE t INCLUDING ALL)"
                                   if args.engine == "postgresql" else
                                   "executemany in one transaction into copies with the same indexes"), **anchor},
               "ratio_import_to_anchor": ratio}
    ok = (total <= TARGET_S and c["imported"] == args.rows and c.get("complete", True) and ratio is not None
          and ratio <= TARGET_RATIO)
    what = ("persons, vendor C layout v2: generations, header/trailer, 除票 records, 外字, extra attributes"
            if args.layout == "c" else "legacy rows (vendor A layout, 外字, 除票)")
    C.emit({"name": "bench-import", "dataset": f"{args.rows:,} {what} → {m.code} {m.name}",
            "figures": figures, "targets": {"seconds_total_max": TARGET_S, "all_rows_imported": True,
                        "ratio_import_to_anchor_max": TARGET_RATIO},
            "met": ok})


if __name__ == "__main__":
    main()
