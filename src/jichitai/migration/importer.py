"""The legacy import: scan, chunk, process, write — resumable and idempotent (docs/legacy-migration.md).

1. Scan (cheap, whole file): split records, check their length, read the household key, person key, 住民票コード
   and the head flag of each; find duplicates and households without exactly one head. Group rows into units
   (one household, or one broken row) in order of first appearance, and units into chunks of about `chunk_size`
   rows. All of this depends on the file and the layout only, so a re-run finds the same chunks.
2. Process each chunk not yet committed (in worker processes when `workers` > 1): decode, validate, map 外字,
   compute keys (rows.process_unit).
3. Write each chunk in one transaction: households, persons, history, legacy keys, the rejected / held rows and
   the chunk's own MigrationChunk row. Killed at any moment, a chunk is either wholly there or not at all.
4. Retry held rows whose 外字 are now approved; finish the run with one audit event.
"""
import hashlib
import json
import multiprocessing
import os
import time
from collections import Counter, defaultdict

from django.db import connection, connections, transaction
from django.utils import timezone

from jichitai.audit.actions import append as audit_append
from jichitai.demo.bulk import BulkTables, take_numbers
from jichitai.gaiji.models import GaijiMapping
from jichitai.gaiji.models import Status as GStatus
from jichitai.residents.models import CHANGE_GROUP, ChangeKind, Household, Person, PersonHistory, Status

from . import rows as R
from .layout import HEAD
from .models import LegacyKey, MigrationChunk, MigrationRow, MigrationRun, Outcome

OPERATOR = "migration"
TERMINAL = "migrate_legacy"
SLEEP_ENV = "JICHITAI_MIGRATION_SLEEP"  # seconds to sleep after each committed chunk (tests kill mid-run)

_CTX = None  # set before forking the worker pool


def _work(units):
    return R.process_chunk(_CTX, units)


def _windowed(pool, todo, window):
    """Chunks processed by the pool, in order, with at most `window` in flight (memory stays flat)."""
    from collections import deque

    it = iter(todo)
    pending = deque()
    for i, c in it:
        pending.append((i, c, pool.apply_async(_work, (c,))))
        if len(pending) >= window:
            break
    while pending:
        i, c, fut = pending.popleft()
        res = fut.get()
        nxt = next(it, None)
        if nxt is not None:
            pending.append((nxt[0], nxt[1], pool.apply_async(_work, (nxt[1],))))
        yield i, c, res


def E(*a):
    return R.E(*a)


def split_records(data: bytes, layout):
    """[(line_no, byte offset, record bytes)]: lines split on LF (a trailing CR dropped) or fixed blocks."""
    out = []
    if layout.terminator:
        pos = 0
        parts = data.split(b"\n")
        if parts and parts[-1] == b"":
            parts.pop()
        for i, line in enumerate(parts, start=1):
            rec = line[:-1] if line.endswith(b"\r") else line
            out.append((i, pos, rec))
            pos += len(line) + 1
    else:
        rl = layout.record_length
        for i, pos in enumerate(range(0, len(data), rl), start=1):
            out.append((i, pos, data[pos:pos + rl]))
    return out


def _key(b: bytes) -> str:
    return b.decode("cp932", "replace").strip(" \u3000")


def scan(data: bytes, layout, chunk_size: int):
    """Records → units → chunks. Returns (chunks, n_records, warnings)."""
    records = split_records(data, layout)
    rl = layout.record_length
    hf, pf, rf = (layout.field(layout.household_key), layout.field(layout.person_key),
                  layout.field(layout.resident_code))
    relf, ckf = layout.field("relationship"), layout.field("change_kind")
    pre = {}
    info = {}
    for line_no, off, rec in records:
        n = len(rec)
        if n != rl:
            if n == 0:
                pre[line_no] = [E("", 0, "empty", "空行です", "empty line")]
            else:
                pre[line_no] = [E("", min(n, rl), "length",
                                  f"レコード長が {n} バイトです（レイアウトでは {rl} バイト。途中で切れているか、"
                                  "文字コードが違う可能性があります）",
                                  f"the record has {n} bytes, the layout says {rl} (truncated or wrong encoding?)")]
            continue
        hk = _key(rec[hf.offset:hf.end])
        if not hk:
            pre[line_no] = [E(hf.name, hf.offset, "no_household_key", "世帯番号がありません",
                              "no household number")]
            continue
        rel = _key(rec[relf.offset:relf.end])
        if relf.type == "code":
            rel = relf.codes.get(rel, rel)
        removed = False
        if ckf is not None:
            kind = ckf.codes.get(_key(rec[ckf.offset:ckf.end]))
            removed = kind is not None and CHANGE_GROUP.get(ChangeKind(kind)) == "消除"
        info[line_no] = (hk, _key(rec[pf.offset:pf.end]), _key(rec[rf.offset:rf.end]), rel == HEAD and not removed,
                         removed)
    by_code, by_pkey = defaultdict(list), defaultdict(list)
    for line_no, (hk, pk, rc, _h, _r) in info.items():
        if rc:
            by_code[rc].append(line_no)
        if pk:
            by_pkey[pk].append(line_no)
    for rc, lines in by_code.items():
        if len(lines) > 1:
            for ln in lines:
                others = ", ".join(str(x) for x in lines if x != ln)
                pre.setdefault(ln, []).append(E(rf.name, rf.offset, "duplicate_resident_code",
                                                f"住民票コードがファイル内で重複しています（{others}行目と同じ）",
                                                f"duplicate resident code in the file (same as line {others})"))
    for pk, lines in by_pkey.items():
        if len(lines) > 1:
            for ln in lines:
                others = ", ".join(str(x) for x in lines if x != ln)
                pre.setdefault(ln, []).append(E(pf.name, pf.offset, "duplicate_person_key",
                                                f"旧宛名番号がファイル内で重複しています（{others}行目と同じ）",
                                                f"duplicate legacy person key (same as line {others})"))
    households = {}
    for line_no, (hk, _pk, _rc, is_head, removed) in info.items():
        h = households.setdefault(hk, [[], 0, 0])
        h[0].append(line_no)
        h[1] += is_head
        h[2] += not removed
    for hk, (lines, heads, residents) in households.items():
        if residents and heads == 0:
            for ln in lines:
                pre.setdefault(ln, []).append(E(relf.name, relf.offset, "no_head",
                                                f"世帯（旧世帯番号 {hk}）に世帯主の行がありません（世帯のない世帯員）",
                                                f"household {hk} has no head row (members without a household)"))
        elif heads > 1:
            for ln in lines:
                pre.setdefault(ln, []).append(E(relf.name, relf.offset, "multiple_heads",
                                                f"世帯（旧世帯番号 {hk}）に世帯主が {heads} 人います",
                                                f"household {hk} has {heads} heads"))
    # units in order of first appearance
    by_line = {ln: (off, rec) for ln, off, rec in records}
    units, seen = [], set()
    for line_no, _off, _rec in records:
        if line_no in info:
            hk = info[line_no][0]
            if hk in seen:
                continue
            seen.add(hk)
            lines = households[hk][0]
            units.append((hk, [(ln, by_line[ln][0], by_line[ln][1], pre.get(ln, [])) for ln in lines]))
        else:
            units.append((None, [(line_no, by_line[line_no][0], by_line[line_no][1], pre[line_no])]))
    chunks, cur, n = [], [], 0
    for u in units:
        cur.append(u)
        n += len(u[1])
        if n >= chunk_size:
            chunks.append(cur)
            cur, n = [], 0
    if cur:
        chunks.append(cur)
    return chunks, len(records), sniff(data)


def sniff(data: bytes) -> list:
    """File-level hints about a wrong encoding (the rows are still judged one by one)."""
    warn = []
    sample = data[:1_000_000]
    if any(b >= 0x80 for b in sample):
        try:
            sample.decode("utf-8")
            warn.append("入力は UTF-8 のようです（cp932 ではありません） / the input looks like UTF-8, not cp932")
        except UnicodeDecodeError as e:
            if e.start > len(sample) - 4:
                warn.append("入力は UTF-8 のようです / the input looks like UTF-8")
    if b"\x00\x00" in sample:
        warn.append("入力に NUL バイトが含まれます（バイナリ？） / the input contains NUL bytes (binary?)")
    return warn


class Importer:
    def __init__(self, municipality, layout, vendor, data: bytes, *, input_name="", chunk_size=5000, workers=1,
                 operator=OPERATOR, actor=None, dry_run=False, progress=None):
        self.m = municipality
        self.layout = layout
        self.vendor = vendor
        self.data = data
        self.input_sha = hashlib.sha256(data).hexdigest()
        self.input_name = input_name
        self.chunk_size = chunk_size
        self.workers = workers
        self.operator = operator
        self.actor = actor
        self.dry_run = dry_run
        self.progress = progress or (lambda msg: None)
        self.this = Counter()
        self.timings = {}

    # ------------------------------------------------------------------ entry point
    def run(self):
        """Import (or, dry run: do everything in a transaction rolled back at the end). Returns the report dict."""
        t0 = time.perf_counter()
        if self.dry_run:
            with transaction.atomic():
                report = self._run()
                transaction.set_rollback(True)
        else:
            report = self._run()
        report["this_run"]["seconds"] = round(time.perf_counter() - t0, 2)
        report["this_run"]["timings"] = self.timings
        return report

    def _run(self):
        t = time.perf_counter()
        run = self._get_run()
        chunks, n_records, warnings = scan(self.data, self.layout, run.chunk_size)
        self.timings["scan_s"] = round(time.perf_counter() - t, 2)
        self.warnings = warnings
        if run.rows_read != n_records or run.chunks_total != len(chunks):
            MigrationRun.objects.filter(pk=run.pk).update(rows_read=n_records, chunks_total=len(chunks))
            run.rows_read, run.chunks_total = n_records, len(chunks)
        done = set(MigrationChunk.objects.filter(run=run, kind="chunk").values_list("index", flat=True))
        todo = [(i, c) for i, c in enumerate(chunks) if i not in done]
        self.this["chunks_skipped"] = len(chunks) - len(todo)
        self.progress(f"{n_records:,} rows in {len(chunks)} chunks; {len(done)} already committed, {len(todo)} to do")
        ctx = self._ctx()
        self.tables = BulkTables(connection.vendor)
        self.processed_at = self.tables.datetime(run.created_at)
        t = time.perf_counter()
        sleep = float(os.environ.get(SLEEP_ENV, "0") or 0)
        global _CTX
        _CTX = ctx
        use_pool = self.workers > 1 and len(todo) > 1 and not connection.in_atomic_block
        if use_pool:
            connections.close_all()
            pool = multiprocessing.get_context("fork").Pool(self.workers)
            results = _windowed(pool, todo, window=self.workers + 2)
        else:
            pool = None
            results = ((i, c, R.process_chunk(ctx, c)) for i, c in todo)
        try:
            for i, units, res in results:
                rows_in = sum(len(u[1]) for u in units)
                self._write(run, "chunk", i, units[0][1][0][0], rows_in, res)
                self.this["chunks_committed"] += 1
                if self.this["chunks_committed"] % 10 == 0 or i == len(chunks) - 1:
                    self.progress(f"  chunk {i + 1}/{len(chunks)} committed "
                                  f"({self.this['imported']:,} imported in this pass)")
                if sleep:
                    time.sleep(sleep)
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
        self.timings["chunks_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        self._retry_held(run, ctx)
        registered = self._register_unknown_gaiji(run)
        self.timings["retry_s"] = round(time.perf_counter() - t, 2)
        changed = (self.this["chunks_committed"] or self.this["retry_changed"] or registered
                   or run.status != "completed")
        report = build_report(run, self.layout, self.warnings)
        report["this_run"] = {"dry_run": self.dry_run, "chunks_committed": self.this["chunks_committed"],
                              "chunks_skipped": self.this["chunks_skipped"], "imported": self.this["imported"],
                              "resolved_from_held": self.this["resolved"], "gaiji_registered": registered,
                              "changed": bool(changed)}
        if changed:
            with transaction.atomic():
                MigrationRun.objects.filter(pk=run.pk).update(status="completed", finished_at=timezone.now(),
                                                              passes=run.passes + 1)
                c = report["counts"]
                audit_append(self.m, "migration.legacy_import", actor=self.actor, terminal=TERMINAL,
                             object_type="migration_run", object_id=run.pk,
                             detail={"vendor": self.vendor, "input_sha256": self.input_sha,
                                     "layout_sha256": self.layout.sha256, "input": self.input_name,
                                     "read": c["read"], "imported": c["imported"], "rejected": c["rejected"],
                                     "held": c["held"], "imported_this_run": self.this["imported"],
                                     "dry_run": self.dry_run})
        return report

    def _get_run(self):
        with transaction.atomic():
            run, created = MigrationRun.objects.get_or_create(
                municipality=self.m, vendor=self.vendor, input_sha256=self.input_sha,
                layout_sha256=self.layout.sha256,
                defaults={"chunk_size": self.chunk_size, "input_name": self.input_name[:300],
                          "layout_name": self.layout.name[:200], "created_at": timezone.now().replace(microsecond=0)})
        if not created and run.chunk_size != self.chunk_size:
            self.progress(f"resuming run {run.pk} with its chunk size {run.chunk_size}")
        return run

    def _ctx(self):
        gaiji, pending_status = {}, {}
        for ch, text, status, evidence, sjis in GaijiMapping.objects.filter(vendor=self.vendor).values_list(
                "pua_char", "mapped_text", "status", "evidence", "sjis_code"):
            if status == GStatus.APPROVED and text:
                gaiji[ch] = (text, evidence or "manual", sjis)
            else:
                pending_status[ch] = status
        self.pending_status = pending_status
        existing_codes = set(Person.objects.filter(status=Status.RESIDENT).values_list("resident_code", flat=True))
        existing_keys = set(LegacyKey.objects.filter(municipality=self.m, vendor=self.vendor)
                            .values_list("person_key", flat=True))
        return R.Ctx(self.layout, self.vendor, gaiji, existing_codes, existing_keys, timezone.localdate(),
                     connection.vendor, pending_status)

    # ------------------------------------------------------------------ writing
    def _write(self, run, kind, index, first_line, rows_in, results, existing_households=None, resolved=()):
        """One transaction: the chunk's households, persons, history, legacy keys, outcomes and progress row."""
        tables = self.tables
        muni = self.m.pk
        new_hh = [r for r in results if r["persons"] and not r["household_exists"]]
        n_persons = sum(len(r["persons"]) for r in results)
        stats = {"imported": n_persons, "field_errors": {}, "mapped": {}, "checked": 0}
        for r in results:
            stats["checked"] += r["checked"]
            for f, d in r["field_errors"].items():
                fd = stats["field_errors"].setdefault(f, {})
                for k, n in d.items():
                    fd[k] = fd.get(k, 0) + n
            for ev, n in r["mapped"].items():
                stats["mapped"][ev] = stats["mapped"].get(ev, 0) + n
        with transaction.atomic():
            with connection.cursor() as cur:
                if n_persons:
                    hh_id = tables.reserve_ids(cur, Household, len(new_hh)) if new_hh else 0
                    p_id = tables.reserve_ids(cur, Person, n_persons)
                    h_id = tables.reserve_ids(cur, PersonHistory, n_persons)
                    atena = take_numbers(self.m, "atena", n_persons)
                    hh_no = take_numbers(self.m, "household", len(new_hh)) if new_hh else 0
                    hh_rows, p_rows, hist_rows, key_rows = [], [], [], []
                    i_id, i_hh, i_atena, i_muni = R.IDX["id"], R.IDX["household_id"], R.IDX["atena_no"], \
                        R.IDX["municipality_id"]
                    for r in results:
                        if not r["persons"]:
                            continue
                        if r["household_exists"]:
                            this_hh, household_no = existing_households[r["hk"]]
                        else:
                            this_hh, household_no = hh_id, f"{hh_no:010d}"
                            hh_id += 1
                            hh_no += 1
                        head_pk, active = None, False
                        hh_json = json.dumps(household_no)
                        for p in r["persons"]:
                            row = p["row"]
                            row[i_id], row[i_hh], row[i_muni] = p_id, this_hh, muni
                            atena_no = f"{atena:010d}"
                            row[i_atena] = atena_no
                            if p["is_head"]:
                                head_pk = p_id
                            active = active or not p["removed"]
                            p_rows.append(row)
                            snap = p["snap"].replace(R.ATENA_JSON, json.dumps(atena_no)).replace(R.HHNO_JSON, hh_json)
                            hkind, when, notif, note = p["hist"]
                            hist_rows.append([h_id, muni, p_id, 1, hkind, tables.date(when), tables.date(notif),
                                              self.processed_at, self.operator, TERMINAL, note, snap])
                            key_rows.append([muni, self.vendor, p["person_key"], r["hk"], p_id, run.pk,
                                             p["line_no"]])
                            p_id += 1
                            h_id += 1
                            atena += 1
                        if not r["household_exists"]:
                            hh_rows.append({"id": this_hh, "municipality_id": muni, "household_no": household_no,
                                            "head_id": head_pk if active else None, "is_active": active,
                                            "created_at": self.processed_at})
                    tables.insert(cur, Household, tables.hh_fields,
                                  [[h[f.attname] for f in tables.hh_fields] for h in hh_rows])
                    tables.insert(cur, Person, tables.person_fields, p_rows)
                    tables.insert(cur, PersonHistory, _HIST_FIELDS, hist_rows)
                    tables.insert(cur, LegacyKey, _KEY_FIELDS, key_rows)
            outcomes = [o for r in results for o in r["outcomes"]]
            if resolved:
                MigrationRow.objects.filter(run=run, line_no__in=list(resolved)).delete()
            if outcomes:
                if kind == "retry":
                    MigrationRow.objects.filter(run=run, line_no__in=[o[0] for o in outcomes]).delete()
                MigrationRow.objects.bulk_create([
                    MigrationRow(run=run, line_no=o[0], byte_offset=o[1], outcome=o[2], reason_code=o[3],
                                 field=o[4], field_offset=o[5], reason_ja=o[6][:300], reason_en=o[7][:300],
                                 errors=o[8], pending_codes=o[9][:400], household_key=(o[10] or "")[:40],
                                 raw=o[11]) for o in outcomes], batch_size=500)
            if resolved:
                MigrationRow.objects.bulk_create([
                    MigrationRow(run=run, line_no=ln, byte_offset=off, outcome=Outcome.RESOLVED,
                                 reason_code="resolved", reason_ja="外字の承認後に取り込みました",
                                 reason_en="imported after its 外字 were approved", household_key=hk or "", raw=raw)
                    for ln, (off, raw, hk) in resolved.items()], batch_size=500)
            MigrationChunk.objects.create(run=run, kind=kind, index=index, first_line=first_line, rows=rows_in,
                                          imported=n_persons, stats=json.dumps(stats, sort_keys=True,
                                                                               ensure_ascii=False),
                                          committed_at=timezone.now())
        self.this["imported"] += n_persons

    # ------------------------------------------------------------------ held rows
    def _register_unknown_gaiji(self, run) -> list:
        """外字 that held rows wait for and that the registry does not know at all are added to it as 確認待ち
        (proposed, no mapping), in one transaction with one audit event, so that an admin finds them on the 外字
        review screen. Nothing is approved here: approval stays a person's decision (or a code-table match made
        when the vendor's codes are registered). Returns the codes added."""
        codes = set()
        for pc in MigrationRow.objects.filter(run=run, outcome=Outcome.HELD).values_list("pending_codes", flat=True):
            codes.update(pc.split())
        if not codes:
            return []
        known = set(GaijiMapping.objects.filter(vendor=self.vendor).values_list("pua_char", flat=True))
        new = {}
        for code in sorted(codes):
            ch = chr(int(code[2:], 16)) if code.startswith("U+") else bytes.fromhex(code).decode("cp932")
            if ch not in known:
                new[code] = ch
        if not new:
            return []
        from jichitai.gaiji.actions import _snapshot
        from jichitai.gaiji.models import GaijiMappingEvent

        now = timezone.now()
        note = f"データ移行で検出（{self.input_name}）"[:200]
        with transaction.atomic():
            for code, ch in new.items():
                m = GaijiMapping.objects.create(pua_char=ch, sjis_code="" if code.startswith("U+") else code,
                                                vendor=self.vendor, vendor_note=note)
                GaijiMappingEvent.objects.create(mapping=m, action="registered", at=now, actor=OPERATOR,
                                                 snapshot=_snapshot(m), note="データ移行で未登録の外字を検出")
            audit_append(self.m, "gaiji.registered_from_migration", actor=self.actor, terminal=TERMINAL,
                         object_type="migration_run", object_id=run.pk,
                         detail={"vendor": self.vendor, "codes": sorted(new)})
        self.progress(f"外字台帳に確認待ちとして登録 / registered for review: {' '.join(sorted(new))}")
        return sorted(new)

    def _retry_held(self, run, ctx):
        held = list(MigrationRow.objects.filter(run=run, outcome=Outcome.HELD).order_by("line_no"))
        if not held:
            return
        pending_chars = set()
        for h in held:
            for code in h.pending_codes.split():
                pending_chars.add(code)
        # nothing approved since: nothing to do (cheap check)
        approved_codes = {sjis for _t, _e, sjis in ctx.gaiji.values()}
        by_pua = {R.sjis_of(ch) for ch in ctx.gaiji}
        if not (pending_chars & (approved_codes | by_pua)):
            return
        groups = defaultdict(list)
        for h in held:
            groups[h.household_key].append(h)
        keys = LegacyKey.objects.filter(municipality=self.m, vendor=self.vendor, run=run,
                                        household_key__in=list(groups)).values_list("household_key", "person_id")
        hh_of = {}
        for hk, pid in keys:
            hh_of.setdefault(hk, pid)
        existing = {}
        if hh_of:
            for pid, hid, hno in Person.objects.filter(pk__in=list(hh_of.values())).values_list(
                    "pk", "household_id", "household__household_no"):
                existing[pid] = (hid, hno)
        results, resolved = [], {}
        for hk, rows in groups.items():
            unit = (hk, [(h.line_no, h.byte_offset, bytes(h.raw), []) for h in rows])
            exists = hk in hh_of
            res = R.process_unit(ctx, unit, household_exists=exists)
            if exists:
                res["existing"] = existing[hh_of[hk]]
            # only rows whose state changed are written
            res["outcomes"] = [o for o in res["outcomes"] if not (o[2] == "held" and _same_hold(o, rows))]
            for p in res["persons"]:
                h = next(x for x in rows if x.line_no == p["line_no"])
                resolved[h.line_no] = (h.byte_offset, bytes(h.raw), hk)
            if res["persons"] or res["outcomes"]:
                results.append(res)
        if not results:
            return
        existing_households = {r["hk"]: r["existing"] for r in results if r.get("existing")}
        index = MigrationChunk.objects.filter(run=run, kind="retry").count()
        self._write(run, "retry", index, 0, sum(len(r["persons"]) + len(r["outcomes"]) for r in results), results,
                    existing_households=existing_households, resolved=resolved)
        self.this["resolved"] += len(resolved)
        self.this["retry_changed"] += 1


def _same_hold(o, rows):
    old = next((h for h in rows if h.line_no == o[0]), None)
    return old is not None and old.reason_code == o[3] and old.pending_codes == o[9]


_HIST_FIELDS = [f for f in PersonHistory._meta.concrete_fields]
_KEY_FIELDS = [f for f in LegacyKey._meta.concrete_fields if f.attname != "id"]


# ---------------------------------------------------------------------- the report (from the database: cumulative)

def build_report(run, layout, warnings=()):
    chunks = list(MigrationChunk.objects.filter(run=run).values_list("kind", "imported", "stats"))
    imported = sum(c[1] for c in chunks)
    field_errors, mapped, checked = {}, Counter(), 0
    for _kind, _n, stats in chunks:
        s = json.loads(stats)
        checked += s.get("checked", 0)
        mapped.update(s.get("mapped", {}))
        for f, d in s.get("field_errors", {}).items():
            fd = field_errors.setdefault(f, Counter())
            fd.update(d)
    rows, raw = [], {}
    for r in MigrationRow.objects.filter(run=run).order_by("line_no").values_list(
            "line_no", "byte_offset", "outcome", "reason_code", "field", "field_offset", "reason_ja", "reason_en",
            "pending_codes", "household_key", "raw"):
        rows.append(r[:10])
        if r[2] != Outcome.RESOLVED:
            raw[r[0]] = bytes(r[10])
    rejected = [r for r in rows if r[2] == Outcome.REJECTED]
    held = [r for r in rows if r[2] == Outcome.HELD]
    pending = Counter()
    for r in held:
        pending.update(r[8].split())
    status_of = {}
    for sjis, status in GaijiMapping.objects.filter(vendor=run.vendor).values_list("sjis_code", "status"):
        status_of[sjis] = status
    counts = {"read": run.rows_read, "imported": imported, "rejected": len(rejected), "held": len(held),
              "resolved_after_hold": sum(1 for r in rows if r[2] == Outcome.RESOLVED)}
    counts["accounted"] = counts["imported"] + counts["rejected"] + counts["held"]
    counts["complete"] = counts["accounted"] == counts["read"] and bool(
        run.chunks_total == sum(1 for c in chunks if c[0] == "chunk"))
    return {
        "run": {"id": run.pk, "municipality": run.municipality.code, "vendor": run.vendor,
                "input": run.input_name, "input_sha256": run.input_sha256, "layout": layout.source,
                "layout_name": layout.name, "layout_sha256": run.layout_sha256, "chunk_size": run.chunk_size,
                "chunks_total": run.chunks_total, "created_at": run.created_at.isoformat()},
        "counts": counts,
        "rejected_by_reason": dict(sorted(Counter(r[3] for r in rejected).items())),
        "gaiji_mapped_by_evidence": dict(sorted(mapped.items())),
        "gaiji_pending": [{"code": c, "rows": n, "registry_status": status_of.get(c, "unregistered")}
                          for c, n in sorted(pending.items())],
        "fields_checked": checked,
        "field_errors": {f: dict(sorted(d.items())) for f, d in sorted(field_errors.items())},
        "rejected": [dict(zip(("line", "offset", "outcome", "reason_code", "field", "field_offset", "reason_ja",
                               "reason_en", "pending", "household_key"), r)) for r in rejected],
        "held": [dict(zip(("line", "offset", "outcome", "reason_code", "field", "field_offset", "reason_ja",
                           "reason_en", "pending", "household_key"), r)) for r in held],
        "warnings": list(warnings),
        "_raw": raw,
    }
