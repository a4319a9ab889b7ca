"""転居 (move within the municipality) through the actions layer, on SQLite, as a clerk does it: one change per call,
each in its own transaction (register_move_within is @transaction.atomic), with the row lock, the rule checks, the
history snapshot and the audit event — on distinct persons of a ~20,000-person municipality.

Each change is timed from loading the person (queries.get_person_for_update, as the change view does) to the end of
register_move_within's commit. Target: ≥ 500 changes/s. When the target is missed (or with --profile), a further
run of changes is profiled with cProfile and the top costs are printed and reported.

Usage: make bench-changes  (or: bench_changes.py [--changes N] [--profile]). The last line printed is one JSON object.
"""
import argparse
import cProfile
import io
import json
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

TARGET_PER_S = 500.0
WARMUP = 20
PROFILE_CHANGES = 300


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=2000)
    ap.add_argument("--profile", action="store_true", help="profile even when the target is met")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()

    C.configure("sqlite")
    from django.db import connection
    from django.utils import timezone

    from jichitai.residents import actions, queries
    from jichitai.residents.models import Person, PersonHistory, Status
    from jichitai.tenancy.scope import tenant_scope

    muni = C.ensure_municipality(C.MEDIUM)
    dataset = C.ensure_population(muni, C.MEDIUM[5])
    clerk = C.ensure_staff(muni, "bench-change", 1)[0]
    rng = random.Random(args.seed)
    today = timezone.localdate()

    with tenant_scope(muni):
        candidates = list(Person.objects.filter(status=Status.RESIDENT, last_change_date__lte=today)
                          .values_list("id", flat=True))
        addresses = list(Person.objects.filter(status=Status.RESIDENT).values_list("address", "postal_code")
                         .distinct()[:5000])
        need = WARMUP + args.changes + PROFILE_CHANGES
        if len(candidates) < need:
            raise SystemExit(f"only {len(candidates)} resident persons, {need} needed")
        chosen = rng.sample(candidates, need)
        warm, work, prof = chosen[:WARMUP], chosen[WARMUP:WARMUP + args.changes], chosen[WARMUP + args.changes:]
        actor = actions.Actor(intake=actions.IntakeInput.in_person(), user=clerk, terminal="bench@127.0.0.1",
                              municipality=muni)

        split = []  # (load, action) seconds of the measured changes

        def one_change(pid):
            t0 = time.perf_counter()
            person = queries.get_person_for_update(pid)  # what the change view loads (form + expected_version)
            t1 = time.perf_counter()
            address, postal = rng.choice(addresses)
            if address == person.address:
                address = address + "1"
            actions.register_move_within(
                actor, person, expected_version=person.version, address=address, address_katagaki="",
                postal_code=postal, change_date=today, notification_date=today, note="ベンチマーク転居")
            split.append((t1 - t0, time.perf_counter() - t1))

        C.log(f"warm-up: {WARMUP} changes (not counted)")
        for pid in warm:
            one_change(pid)
        quiet = C.wait_quiet()
        history_before = PersonHistory.objects.count()
        split.clear()
        C.log(f"measuring {len(work)} 転居 on distinct persons (one transaction each) …")
        times = []
        t_start = time.perf_counter()
        for i, pid in enumerate(work, 1):
            t0 = time.perf_counter()
            one_change(pid)
            times.append(time.perf_counter() - t0)
            if i % 500 == 0:
                C.log(f"  … {i}/{len(work)} ({i / (time.perf_counter() - t_start):.0f} changes/s)")
        wall = time.perf_counter() - t_start
        rate = len(work) / wall
        history_after = PersonHistory.objects.count()
        load_ms = sorted(x[0] * 1000 for x in split)
        action_ms = sorted(x[1] * 1000 for x in split)
        s = sorted(times)
        C.log(f"{len(work)} changes in {wall:.2f} s = {rate:.0f} changes/s; per change p50 "
              f"{C.percentile(s, 50) * 1000:.2f} ms, p95 {C.percentile(s, 95) * 1000:.2f} ms")

        profile = None
        if rate < TARGET_PER_S or args.profile:
            C.log(f"profiling {len(prof)} further changes with cProfile …")
            pr = cProfile.Profile()
            pr.enable()
            for pid in prof:
                one_change(pid)
            pr.disable()
            buf = io.StringIO()
            st = pstats.Stats(pr, stream=buf).sort_stats("tottime")
            st.print_stats(25)
            C.log(buf.getvalue())
            profile = []
            total = sum(v[2] for v in st.stats.values())
            for (file, line, fn), (cc, nc, tt, ct, _callers) in sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:12]:
                where = fn if file == "~" else f"{Path(file).name}:{line}({fn})"
                profile.append({"function": where, "calls": nc,
                                "tottime_ms_per_change": round(tt * 1000 / len(prof), 3),
                                "share": round(tt / total, 3)})
            # where the time goes, per change (cumulative ms of the app's steps; the engine's own time)
            steps = {"queries.get_person_for_update": ("queries.py", "get_person_for_update"),
                     "actions._lock (re-read in the transaction)": ("actions.py", "_lock"),
                     "actions._save (UPDATE person, COUNT history, INSERT history)": ("actions.py", "_save"),
                     "actions._audit → audit.append (chain head, INSERT event, UPDATE head)": ("actions.py", "_audit"),
                     "actions.snapshot": ("actions.py", "snapshot"),
                     "actions.compute_keys": ("actions.py", "compute_keys")}
            by_step = {}
            for label, (fname, func) in steps.items():
                ct = sum(v[3] for (f, _l, fn), v in st.stats.items() if fn == func and f.endswith(fname))
                by_step[label] = round(ct * 1000 / len(prof), 3)
            engine = sum(v[2] for (f, _l, fn), v in st.stats.items()
                         if f == "~" and ("SQLiteCursorWrapper.execute" in fn or "'commit'" in fn
                                          or "'execute'" in fn))
            compile_ = sum(v[3] for (f, _l, fn), v in st.stats.items()
                           if fn == "as_sql" and f.endswith("sql/compiler.py"))
            by_step["SQLite itself (execute + commit, tottime)"] = round(engine * 1000 / len(prof), 3)
            by_step["Django SQL compilation (SQLCompiler.as_sql, cumulative)"] = round(compile_ * 1000 / len(prof), 3)
            by_step["total per change (under cProfile)"] = round(total * 1000 / len(prof), 3)
            C.log("per change, under cProfile (ms): " + json.dumps(by_step, ensure_ascii=False, indent=1))
            # the SQL each change issues
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as ctx:
                one_change(rng.choice(candidates))
            C.log(f"one 転居 issues {len(ctx.captured_queries)} SQL statements:")
            for q in ctx.captured_queries:
                C.log(f"   {q['time']}s  {q['sql'][:160]}")
            profile = {"per_change_ms": by_step, "top_tottime": profile,
                       "sql_statements_per_change": len(ctx.captured_queries)}

    C.emit({
        "name": "bench-changes",
        "dataset": f"{C.MEDIUM[1]} ({C.MEDIUM[0]}) on SQLite (var/bench): {dataset['persons']:,} persons "
                   f"(jichitai.demo.bulk{', cached' if dataset['cached'] else ''}); {len(work)} distinct persons moved",
        "figures": {
            "changes": len(work), "seconds": round(wall, 3), "changes_per_s": round(rate, 1),
            "p50_ms": round(C.percentile(s, 50) * 1000, 2), "p95_ms": round(C.percentile(s, 95) * 1000, 2),
            "p99_ms": round(C.percentile(s, 99) * 1000, 2),
            "load_person_p50_ms": round(C.percentile(load_ms, 50), 2),
            "register_move_within_p50_ms": round(C.percentile(action_ms, 50), 2),
            "register_move_within_only_per_s": round(len(action_ms) / (sum(action_ms) / 1000), 1),
            "history_rows_added": history_after - history_before, "profile": profile,
        },
        "targets": {"changes_per_s": {"target": TARGET_PER_S, "measured": round(rate, 1),
                                      "met": rate >= TARGET_PER_S}},
        "met": rate >= TARGET_PER_S,
        "engine": "sqlite", "machine": {**C.machine(), **quiet},
    })


if __name__ == "__main__":
    main()
