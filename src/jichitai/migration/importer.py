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
import gc
import hashlib
import json
import multiprocessing
import os
import resource
import time
import zlib
from collections import Counter, defaultdict
from json.encoder import encode_basestring_ascii as _json_str  # = json.dumps of a str

from django.db import connection, connections, transaction
from django.utils import timezone

from jichitai.audit.actions import append as audit_append
from jichitai.demo.bulk import BulkTables, take_numbers
from jichitai.gaiji.models import GaijiMapping
from jichitai.gaiji.models import Status as GStatus
from jichitai.residents.models import Household, Person, PersonHistory, Status

from . import rows as R
from .models import LegacyKey, MigrationChunk, MigrationRow, MigrationRun, Outcome, PersonExtra

OPERATOR = "migration"
TERMINAL = "migrate_legacy"
SLEEP_ENV = "JICHITAI_MIGRATION_SLEEP"  # seconds to sleep after each committed chunk (tests kill mid-run)

_CTX = None  # set before forking the worker pool
_CHUNKS = {}  # chunk index -> units, set before forking: the workers read their chunks from memory they inherit


def _worker_init():
    """A worker ends when its parent is gone (killed with SIGKILL, the pool's pipes stay open in the orphan)."""
    import threading

    parent = os.getppid()

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _work(i):
    gc.disable()  # a chunk's many small dicts are not garbage until it is done (no cycles made)
    try:
        return R.process_chunk(_CTX, _CHUNKS[i])
    finally:
        gc.enable()


def _windowed(pool, todo, window):
    """Chunks processed by the pool, in order, with at most `window` in flight (memory stays flat). Only the
    chunk's index goes to a worker (the forked worker has the scanned chunks already); its results come back."""
    from collections import deque

    it = iter(todo)
    pending = deque()
    for i, c in it:
        pending.append((i, c, pool.apply_async(_work, (i,))))
        if len(pending) >= window:
            break
    while pending:
        i, c, fut = pending.popleft()
        res = fut.get()
        nxt = next(it, None)
        if nxt is not None:
            pending.append((nxt[0], nxt[1], pool.apply_async(_work, (nxt[0],))))
        yield i, c, res


def E(*a):
    return R.E(*a)


def split_records(data: bytes, layout):
    """[(line_no, byte offset, record bytes)]: lines split on LF (a trailing CR dropped) or fixed blocks."""
    out = []
    append = out.append
    if layout.terminator:
        pos = 0
        if data.count(b"\n") == data.count(b"\r\n"):
            # every LF follows a CR (the usual CRLF file): one split on CRLF gives the same records without a
            # per-line CR test; only the last piece (after the last LF) may still end in a lone CR
            parts = data.split(b"\r\n")
            if parts and parts[-1] == b"":
                parts.pop()
            elif parts and parts[-1].endswith(b"\r"):
                parts[-1] = parts[-1][:-1]
            i = 0
            for rec in parts:
                i += 1
                append((i, pos, rec))
                pos += len(rec) + 2
        else:
            parts = data.split(b"\n")
            if parts and parts[-1] == b"":
                parts.pop()
            for i, line in enumerate(parts, start=1):
                append((i, pos, line[:-1] if line.endswith(b"\r") else line))
                pos += len(line) + 1
    else:
        rl = layout.record_length
        for i, pos in enumerate(range(0, len(data), rl), start=1):
            append((i, pos, data[pos:pos + rl]))
    return out


def _key(b: bytes) -> str:
    return (b.decode("ascii") if b.isascii() else b.decode("cp932", "replace")).strip(" \u3000")


def _dup_msgs(kind, first, line_no):
    if kind == "identical":
        return (f"{first}行目と同じ内容の重複行です（1件として取り込みます）",
                f"identical repeat of line {first} (imported once)")
    return (f"{first}行目と同じ{kind}で内容が異なります（先の{first}行目を取り込みます）",
            f"same {kind} as line {first} with different content (line {first} is kept)")


class _TypeOf:
    """layout.type_of, remembered per raw record-type bytes (a handful of codes in a whole file)."""

    def __init__(self, layout):
        self.layout = layout
        self.memo = {}
        self.span = layout.record_type

    def __call__(self, rec):
        if self.span is None:
            return self.layout
        o, ln = self.span
        code = rec[o:o + ln]
        try:
            return self.memo[code]
        except KeyError:
            rt = self.memo[code] = self.layout.type_of(rec)
            return rt


def scan(data: bytes, layout, chunk_size: int, out=None):
    """Records → units → chunks. Returns (chunks, n_records, warnings). `out` (a dict) receives the control
    records (v2 header / trailer), the trailer checks and the counts per record type and generation."""
    records = split_records(data, layout)
    rl = layout.record_length
    v2 = layout.version == 2
    gk = layout.generation_key
    pre, warn = {}, defaultdict(list)
    info = {}
    control = []  # (line_no, role)
    by_type, by_gen = Counter(), Counter()
    data_lines = []
    last = records[-1][0] if records else 0
    type_of = _TypeOf(layout)
    spans = {}  # record type -> (household, person, resident code, generation) fields and their slices
    first_of = {}
    label = "旧宛名番号・履歴番号" if gk else "旧宛名番号"
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
            by_type["?"] += 1
            data_lines.append((line_no, rec))
            continue
        rt = type_of(rec)
        if v2:
            if rt is None:
                o, ln = layout.record_type
                code = _key(rec[o:o + ln])
                pre[line_no] = [E("record_type", o, "record_type",
                                  f"レコード種別「{R._safe(code)}」はレイアウトにありません",
                                  f"record type {R._safe(code)!r} is not in the layout")]
                by_type["?"] += 1
                data_lines.append((line_no, rec))
                continue
            by_type[rt.code] += 1
            if rt.role in ("header", "trailer"):
                where_ok = line_no == 1 if rt.role == "header" else line_no == last
                if where_ok:
                    control.append((line_no, rt.role))
                else:
                    pre[line_no] = [E("record_type", layout.record_type[0], "record_position",
                                      f"{'ヘッダー' if rt.role == 'header' else 'トレーラー'}レコードが"
                                      f"{'先頭' if rt.role == 'header' else '末尾'}にありません",
                                      f"the {rt.role} record is not the {'first' if rt.role == 'header' else 'last'}"
                                      " record")]
                    data_lines.append((line_no, rec))
                continue
        data_lines.append((line_no, rec))
        sp = spans.get(id(rt))
        if sp is None:
            hf, pf, rf = rt.field(layout.household_key), rt.field(layout.person_key), rt.field(layout.resident_code)
            g = rt.field(gk) if gk else None
            sp = spans[id(rt)] = (hf, pf, rf, g, hf.offset, hf.end, pf.offset, pf.end, rf.offset, rf.end,
                                  g.offset if g else 0, g.end if g else 0)
        hf, pf, rf, g, h0, h1, p0, p1, r0, r1, g0, g1 = sp
        b = rec[h0:h1]
        hk = b.decode("ascii").strip(" \u3000") if b.isascii() else _key(b)
        if not hk:
            pre[line_no] = [E(hf.name, hf.offset, "no_household_key", "世帯番号がありません",
                              "no household number")]
            continue
        gen = ""
        if g is not None:
            b = rec[g0:g1]
            gen = b.decode("ascii").strip(" \u3000") if b.isascii() else _key(b)
            by_gen[gen or "?"] += 1
        b = rec[p0:p1]
        pk = b.decode("ascii").strip(" \u3000") if b.isascii() else _key(b)
        b = rec[r0:r1]
        info[line_no] = (hk, pk, b.decode("ascii").strip(" \u3000") if b.isascii() else _key(b), gen, rt)
        # duplicates (after the line-level rejects): the same person key (and generation) twice. Identical repeats
        # are kept once; conflicting ones: the first is kept, both are reported.
        if not pk:
            continue
        key = (pk, gen)
        first = first_of.get(key)
        if first is None:
            first_of[key] = line_no
            continue
        if records[first - 1][2] == rec:
            ja, en = _dup_msgs("identical", first, line_no)
            pre.setdefault(line_no, []).append(E(pf.name, pf.offset, "duplicate_identical", ja, en))
        else:
            ja, en = _dup_msgs(label, first, line_no)
            pre.setdefault(line_no, []).append(E(pf.name, pf.offset, "duplicate_person_key", ja, en))
            warn[first].append(E(pf.name, pf.offset, "duplicate_kept",
                                 f"{line_no}行目に同じ{label}で内容の異なる行があります（この行を取り込みます）",
                                 f"line {line_no} has the same key with different content (this line is kept)"))
    # the same 住民票コード for two persons; and (v2 with generations) a person's rows go to the household of its
    # newest generation
    code_owner = {}
    person_hh, newest = {}, {}
    for line_no, (hk, pk, rc, gen, rt) in info.items():
        if gk and pk:
            gi = int(gen) if gen.isdigit() else 0
            nw = newest.get(pk)
            if nw is None or (int(gen or 0), line_no) >= nw:
                newest[pk] = (gi, line_no)
                person_hh[pk] = hk
        if not rc:
            continue
        pl = pre.get(line_no)
        if pl is not None and any(e[2] == "duplicate_identical" for e in pl):
            continue
        owner = code_owner.get(rc)
        if owner is None:
            code_owner[rc] = (pk or line_no, line_no)
            continue
        if owner[0] == (pk or line_no):
            continue  # the same person's generations
        rf = rt.field(layout.resident_code)
        first = owner[1]
        pre.setdefault(line_no, []).append(E(rf.name, rf.offset, "duplicate_resident_code",
                                             f"住民票コードがファイル内で重複しています（{first}行目と同じ。"
                                             f"先の{first}行目を取り込みます）",
                                             f"duplicate resident code in the file (same as line {first}, "
                                             "which is kept)"))
        warn[first].append(E(rf.name, rf.offset, "duplicate_kept",
                             f"{line_no}行目に同じ住民票コードの別の人がいます（この行を取り込みます）",
                             f"line {line_no} has the same resident code for another person (this line is kept)"))
    households = {}
    for line_no, (hk, pk, _rc, _g, _rt) in info.items():
        h = person_hh.get(pk, hk)
        lst = households.get(h)
        if lst is None:
            households[h] = [line_no]
        else:
            lst.append(line_no)
    # units in order of first appearance
    units, seen = [], set()
    control_lines = {c[0] for c in control}
    pre_get, warn_get = pre.get, warn.get
    for line_no, _off, _rec in records:
        if line_no in control_lines:
            continue
        inf = info.get(line_no)
        if inf is not None:
            hk = person_hh.get(inf[1], inf[0])
            if hk in seen:
                continue
            seen.add(hk)
            unit_rows = []
            for ln in households[hk]:
                r = records[ln - 1]
                unit_rows.append((ln, r[1], r[2], pre_get(ln) or [], warn_get(ln) or []))
            units.append((hk, unit_rows))
        else:
            units.append((None, [(line_no, _off, _rec, pre[line_no], [])]))
    chunks, cur, n = [], [], 0
    for u in units:
        cur.append(u)
        n += len(u[1])
        if n >= chunk_size:
            chunks.append(cur)
            cur, n = [], 0
    if cur:
        chunks.append(cur)
    if out is not None:
        out["control"] = control
        out["by_record_type"] = dict(sorted(by_type.items()))
        out["by_generation"] = dict(sorted(by_gen.items()))
        out["checks"] = trailer_checks(layout, records, control, data_lines, type_of) if v2 else []
    return chunks, len(records), sniff(data)


def _byte_sum(rec: bytes) -> int:
    """The sum of a record's bytes, in C: Adler-32's low half is 1 + the byte sum modulo 65,521, exact for pieces
    of ≤ 256 bytes (256 × 255 + 1 < 65,521)."""
    if len(rec) <= 256:
        return (zlib.adler32(rec) & 0xFFFF) - 1
    return sum((zlib.adler32(rec[i:i + 256]) & 0xFFFF) - 1 for i in range(0, len(rec), 256))


def trailer_checks(layout, records, control, data_lines, type_of=None):
    """The trailer's checks against the data records (every record between header and trailer): record count,
    hash totals of a field (sum of its digits as a number, modulo 10^length), byte sum (modulo 10^length)."""
    trailers = layout.roles("trailer")
    if not trailers:
        return []
    type_of = type_of or _TypeOf(layout)
    tl = next((ln for ln, role in control if role == "trailer"), None)
    if tl is None:
        return [{"check": "trailer_present", "field": "", "expected": "トレーラーレコード / a trailer record",
                 "actual": "なし / none", "ok": False}]
    rec = records[tl - 1][2]
    out = []
    rl = layout.record_length
    for f in trailers[0].fields:
        if not f.check:
            continue
        mod = 10 ** f.length
        written = _key(rec[f.offset:f.end])
        if f.check == "record_count":
            actual = len(data_lines)
        elif f.check == "byte_sum":
            actual = sum(map(_byte_sum, (r for _ln, r in data_lines))) % mod
        else:
            total = 0
            spans = {}
            for _ln, r in data_lines:
                rt = type_of(r) if len(r) == rl else None
                if rt is None:
                    continue
                sp = spans.get(id(rt), False)
                if sp is False:
                    g = rt.field(f.of) if rt.role in ("resident", "removed") else None
                    sp = spans[id(rt)] = (g.offset, g.end) if g is not None else None
                if sp is not None:
                    b = r[sp[0]:sp[1]]
                    v = b.decode("ascii").strip(" \u3000") if b.isascii() else _key(b)
                    total += int(v) if v.isdigit() else 0
            actual = total % mod
        ok = written.isdigit() and int(written) == actual
        out.append({"check": f.check, "field": f.name, "of": f.of, "line": tl, "expected": written,
                    "actual": str(actual), "ok": ok})
    return out


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
                 operator=OPERATOR, actor=None, dry_run=False, progress=None, accept_trailer_mismatch=False):
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
        self.accept_trailer_mismatch = accept_trailer_mismatch

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
        t, c = time.perf_counter(), time.process_time()
        existing = MigrationRun.objects.filter(municipality=self.m, vendor=self.vendor, input_sha256=self.input_sha,
                                               layout_sha256=self.layout.sha256).first()
        scanned = {}
        # the scan builds millions of small tuples while nothing it makes is garbage: the cyclic collector paused
        # meanwhile (it rescanned the growing heap again and again: ≈ half of the scan's time)
        gc_was = gc.isenabled()
        gc.disable()
        try:
            chunks, n_records, warnings = scan(self.data, self.layout, existing.chunk_size if existing else
                                               self.chunk_size, scanned)
        finally:
            if gc_was:
                gc.enable()
        self.timings["scan_s"] = round(time.perf_counter() - t, 2)
        self.timings["scan_cpu_s"] = round(time.process_time() - c, 2)
        self.warnings = warnings
        self.scanned = scanned
        failed = [c for c in scanned["checks"] if not c["ok"]]
        self.trailer = {"checks": scanned["checks"], "ok": not failed,
                        "overridden": bool(failed) and self.accept_trailer_mismatch}
        if failed and not self.accept_trailer_mismatch:
            self.progress("トレーラーの検査が一致しません。取り込みを中止しました / trailer check failed: nothing imported")
            return self._stopped_report(n_records)
        if failed:
            self.warnings = self.warnings + ["トレーラーの検査が一致しませんが、操作者の指定（--accept-trailer-mismatch）"
                                             "により取り込みました / trailer check failed; imported because the "
                                             "operator accepted the mismatch"]
        run = self._get_run()
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
        global _CTX, _CHUNKS
        _CTX = ctx
        use_pool = self.workers > 1 and len(todo) > 1 and not connection.in_atomic_block
        if use_pool:
            connections.close_all()
            _CHUNKS = dict(todo)
            # the scanned file and chunks are millions of objects that live until the end: out of the cyclic
            # collector's sight (in the writer and in the forked workers, whose pages then stay shared)
            gc.collect()
            gc.freeze()
            pool = multiprocessing.get_context("fork").Pool(self.workers, initializer=_worker_init)
            results = _windowed(pool, todo, window=self.workers + 2)
        else:
            pool = None
            results = ((i, c, R.process_chunk(ctx, c)) for i, c in todo)
        t_write = c_write = 0.0
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        children_cpu = ru.ru_utime + ru.ru_stime
        c_main = time.process_time()
        try:
            for i, units, res in results:
                rows_in = sum(len(u[1]) for u in units)
                t1, c1 = time.perf_counter(), time.process_time()
                self._write(run, "chunk", i, units[0][1][0][0], rows_in, res)
                t_write += time.perf_counter() - t1
                c_write += time.process_time() - c1
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
                _CHUNKS = {}
                gc.unfreeze()
        self.timings["chunks_s"] = round(time.perf_counter() - t, 2)
        # where the chunk phase went: the writer's transactions (wall and its own CPU), the rest waiting for the
        # workers (or, one process, processing in the writer)
        self.timings["write_s"] = round(t_write, 2)
        self.timings["write_cpu_s"] = round(c_write, 2)
        self.timings["writer_cpu_s"] = round(time.process_time() - c_main, 2)
        if use_pool:  # the workers' CPU (reaped by the join)
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            self.timings["workers_cpu_s"] = round(ru.ru_utime + ru.ru_stime - children_cpu, 2)
        t = time.perf_counter()
        self._retry_held(run, ctx)
        registered = self._register_unknown_gaiji(run)
        self.timings["retry_s"] = round(time.perf_counter() - t, 2)
        changed = (self.this["chunks_committed"] or self.this["retry_changed"] or registered
                   or run.status != "completed")
        report = build_report(run, self.layout, self.warnings, scanned, self.trailer)
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
                                     "history_rows": c.get("history_lines", 0),
                                     "trailer_ok": self.trailer["ok"], "trailer_overridden": self.trailer["overridden"],
                                     "dry_run": self.dry_run})
        return report

    def _stopped_report(self, n_records):
        """A failed trailer check without the operator's override: nothing is written, the report says why."""
        lay = self.layout
        return {"run": {"id": None, "municipality": self.m.code, "vendor": self.vendor, "input": self.input_name,
                        "input_sha256": self.input_sha, "layout": lay.source, "layout_name": lay.name,
                        "layout_sha256": lay.sha256},
                "status": "stopped",
                "status_ja": "中止（トレーラーの検査が一致しないため、何も取り込んでいません。確認のうえ取り込む場合は "
                             "--accept-trailer-mismatch を指定してください）",
                "counts": {"read": n_records, "imported": 0, "history_lines": 0, "rejected": 0, "held": 0,
                           "duplicates": 0, "control_records": len(self.scanned["control"]), "accounted": 0,
                           "complete": False, "resolved_after_hold": 0},
                "trailer": self.trailer, "by_record_type": self.scanned["by_record_type"],
                "by_generation": self.scanned["by_generation"], "rejected_by_reason": {},
                "gaiji_mapped_by_evidence": {}, "gaiji_pending": [], "fields_checked": 0, "field_errors": {},
                "rejected": [], "held": [], "duplicates": [], "row_warnings": [], "not_carried": [],
                "extras": {}, "warnings": list(self.warnings), "_raw": {},
                "this_run": {"dry_run": self.dry_run, "chunks_committed": 0, "chunks_skipped": 0, "imported": 0,
                             "resolved_from_held": 0, "gaiji_registered": [], "changed": False, "stopped": True}}

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
        n_hist = sum(len(p["hists"]) for r in results for p in r["persons"])
        stats = {"imported": n_persons, "field_errors": {}, "mapped": {}, "checked": 0,
                 "lines": sum(r.get("lines_imported", len(r["persons"])) for r in results), "warnings": [],
                 "extras": {}}
        for r in results:
            stats["checked"] += r["checked"]
            stats["warnings"].extend(r.get("warnings", ()))
            for p in r["persons"]:
                for k in p.get("extras") or {}:
                    stats["extras"][k] = stats["extras"].get(k, 0) + 1
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
                    h_id = tables.reserve_ids(cur, PersonHistory, n_hist)
                    atena = take_numbers(self.m, "atena", n_persons)
                    hh_no = take_numbers(self.m, "household", len(new_hh)) if new_hh else 0
                    hh_rows, p_rows, hist_rows, key_rows, extra_rows = [], [], [], [], []
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
                        hh_json = _json_str(household_no)
                        for p in r["persons"]:
                            row = p["row"]
                            row[i_id], row[i_hh], row[i_muni] = p_id, this_hh, muni
                            atena_no = f"{atena:010d}"
                            row[i_atena] = atena_no
                            if p["is_head"]:
                                head_pk = p_id
                            active = active or not p["removed"]
                            p_rows.append(row)
                            atena_json = _json_str(atena_no)
                            row[R.IDX["version"]] = len(p["hists"])
                            for no, (hkind, when, notif, note, gsnap) in enumerate(p["hists"], start=1):
                                snap = (gsnap or p["snap"]).replace(R.ATENA_JSON, atena_json).replace(R.HHNO_JSON,
                                                                                                      hh_json)
                                hist_rows.append([h_id, muni, p_id, no, hkind, tables.date(when), tables.date(notif),
                                                  self.processed_at, self.operator, TERMINAL, note, snap])
                                h_id += 1
                            key_rows.append([muni, self.vendor, p["person_key"], r["hk"], p_id, run.pk,
                                             p["line_no"]])
                            for name, value in sorted((p.get("extras") or {}).items()):
                                extra_rows.append([muni, p_id, name, value[:200], self.vendor[:60]])
                            p_id += 1
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
                    if extra_rows:
                        x_id = tables.reserve_ids(cur, PersonExtra, len(extra_rows))
                        tables.insert(cur, PersonExtra, _EXTRA_FIELDS,
                                      [[x_id + i, *r] for i, r in enumerate(extra_rows)])
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
        # one mapping per legacy code per municipality (gaiji_one_per_code), whichever vendor registered it
        known = set(GaijiMapping.objects.values_list("pua_char", flat=True))
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
                for ln in p.get("line_nos", [p["line_no"]]):
                    h = next(x for x in rows if x.line_no == ln)
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


_HIST_FIELDS = [f for f in PersonHistory._meta.concrete_fields if f.attname != "intake_id"]  # no 受付 (legacy)
_KEY_FIELDS = [f for f in LegacyKey._meta.concrete_fields if f.attname != "id"]
_EXTRA_FIELDS = [PersonExtra._meta.get_field(n) for n in ("id", "municipality", "person", "name", "value", "source")]


# ---------------------------------------------------------------------- the report (from the database: cumulative)

def build_report(run, layout, warnings=(), scanned=None, trailer=None):
    scanned = scanned or {"control": [], "by_record_type": {}, "by_generation": {}, "checks": []}
    chunks = list(MigrationChunk.objects.filter(run=run).values_list("kind", "imported", "stats"))
    imported = sum(c[1] for c in chunks)
    field_errors, mapped, checked, lines, row_warnings, extras = {}, Counter(), 0, 0, [], Counter()
    for _kind, n, stats in chunks:
        s = json.loads(stats)
        checked += s.get("checked", 0)
        lines += s.get("lines", n)
        mapped.update(s.get("mapped", {}))
        extras.update(s.get("extras", {}))
        row_warnings.extend(s.get("warnings", ()))
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
    dups = [r for r in rows if r[2] == Outcome.DUPLICATE]
    resolved = sum(1 for r in rows if r[2] == Outcome.RESOLVED)
    pending = Counter()
    for r in held:
        pending.update(r[8].split())
    status_of = {}
    for sjis, status in GaijiMapping.objects.filter(vendor=run.vendor).values_list("sjis_code", "status"):
        status_of[sjis] = status
    n_control = len(scanned["control"])
    counts = {"read": run.rows_read, "imported": imported, "history_lines": lines - imported,
              "rejected": len(rejected), "held": len(held), "duplicates": len(dups),
              "control_records": n_control, "resolved_after_hold": resolved}
    counts["accounted"] = (lines + counts["rejected"] + counts["held"] + counts["duplicates"] + n_control)
    extra_fields = sorted({f.name for rt in ([layout] if layout.version == 1 else layout.record_types.values())
                           for f in rt.fields if f.extra})
    # extras are stored per person (PersonExtra) when the model exists; otherwise they were not carried
    not_carried = [] if EXTRAS_STORED else [{"field": f, "persons": extras.get(f, 0),
                                             "ja": "対応する項目がなく、保存されていません",
                                             "en": "no target field; not stored"} for f in extra_fields]
    all_chunks = run.chunks_total == sum(1 for c in chunks if c[0] == "chunk")
    counts["complete"] = counts["accounted"] == counts["read"] and all_chunks and not not_carried
    reasons = []
    if counts["accounted"] != counts["read"]:
        reasons.append(f"{counts['read'] - counts['accounted']} 行が未処理です / lines not accounted for")
    if not all_chunks:
        reasons.append("未処理のチャンクがあります（再実行で続きを取り込みます） / chunks not yet committed")
    for nc in not_carried:
        reasons.append(f"項目 {nc['field']} は取り込まれていません / field {nc['field']} not carried")
    if counts["held"]:
        reasons.append(f"{counts['held']} 行が外字の承認待ちで保留中です / rows held for 外字")
    if counts["rejected"]:
        reasons.append(f"{counts['rejected']} 行は不正で取り込んでいません / rows rejected")
    status = "completed" if counts["complete"] and not counts["held"] and not counts["rejected"] else (
        "accounted" if counts["complete"] else "incomplete")
    status_ja = {"completed": "完了", "accounted": "全行処理済み（取り込めなかった行あり）",
                 "incomplete": "未完了"}[status]
    cols = ("line", "offset", "outcome", "reason_code", "field", "field_offset", "reason_ja", "reason_en", "pending",
            "household_key")
    return {
        "run": {"id": run.pk, "municipality": run.municipality.code, "vendor": run.vendor,
                "input": run.input_name, "input_sha256": run.input_sha256, "layout": layout.source,
                "layout_name": layout.name, "layout_sha256": run.layout_sha256, "chunk_size": run.chunk_size,
                "chunks_total": run.chunks_total, "created_at": run.created_at.isoformat()},
        "status": status,
        "status_ja": status_ja,
        "not_complete_because": reasons,
        "counts": counts,
        "trailer": trailer or {"checks": [], "ok": True, "overridden": False},
        "by_record_type": scanned["by_record_type"],
        "by_generation": scanned["by_generation"],
        "rejected_by_reason": dict(sorted(Counter(r[3] for r in rejected).items())),
        "gaiji_mapped_by_evidence": dict(sorted(mapped.items())),
        "gaiji_pending": [{"code": c, "rows": n, "registry_status": status_of.get(c, "unregistered")}
                          for c, n in sorted(pending.items())],
        "fields_checked": checked,
        "field_errors": {f: dict(sorted(d.items())) for f, d in sorted(field_errors.items())},
        "extras": {"fields": extra_fields, "persons_with_value": dict(sorted(extras.items())),
                   "stored": EXTRAS_STORED},
        "not_carried": not_carried,
        "rejected": [dict(zip(cols, r)) for r in rejected],
        "held": [dict(zip(cols, r)) for r in held],
        "duplicates": [dict(zip(cols, r)) for r in dups],
        # a held row's warnings come again when it is retried: each warning once
        "row_warnings": [dict(zip(("line", "offset", "field", "field_offset", "code", "ja", "en"), w))
                         for w in sorted({tuple(w) for w in row_warnings}, key=lambda w: (w[0], w[4], w[2]))],
        "warnings": list(warnings),
        "_raw": raw,
    }


EXTRAS_STORED = True  # PersonExtra
