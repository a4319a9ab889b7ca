"""The legacy import's fast paths (issue #11 item 8) give exactly what the plain code gives: the remembered field
verdicts, the search keys remembered by parts, the CRLF split, the byte sum in C, and chunks processed in forked
worker processes. Pure computation: no database rows."""
import datetime as dt
import multiprocessing
import random

import pytest

from jichitai.migration import importer as I
from jichitai.migration import rows as R
from jichitai.migration.layout import load_layout
from jichitai.residents.actions import row_search_keys
from test_migration import EX  # noqa: F401  (tests/ is on the path)


def _ctx(gaiji=None, layout="c"):
    lay = load_layout(EX / f"vendor_{layout}.toml")
    return R.Ctx(lay, "himawari", gaiji or {}, set(), set(), dt.date(2026, 12, 1), "sqlite", {}), lay


def _records(letter="c"):
    lay = load_layout(EX / f"vendor_{letter}.toml")
    return [r for _ln, _o, r in I.split_records((EX / f"vendor_{letter}_sample.dat").read_bytes(), lay)]


@pytest.mark.parametrize("letter", ["a", "c"])
def test_remembered_field_verdicts_equal_fresh_ones(letter):
    """Each record parsed by a context that has seen the whole file equals the same record parsed by a fresh
    context (nothing of one record leaks into another through the per-field memory), bad rows included."""
    gaiji = {"\ue000": ("髙", "juki", "F040")}
    warm, lay = _ctx(gaiji, letter)
    recs = [r for r in _records(letter) if len(r) == lay.record_length]
    for r in recs:
        R.parse_record(warm, r, lay.type_of(r) if lay.version == 2 else None)
    assert any(warm._plans.values())
    seen_errors = 0
    for r in recs:
        rt = lay.type_of(r) if lay.version == 2 else None
        if lay.version == 2 and (rt is None or rt.role not in ("resident", "removed")):
            continue
        fresh, _ = _ctx(gaiji, letter)
        a = R.parse_record(warm, r, rt)
        b = R.parse_record(fresh, r, rt)
        assert a == b
        seen_errors += bool(a[1])
    assert seen_errors  # the samples carry bad rows on purpose: the error paths were compared too


def test_search_keys_by_parts_equal_the_registers_search_keys():
    ctx, _ = _ctx()
    rng = random.Random(5)
    fams = ["佐藤", "髙橋", "渡邉\U000e0101", "𠮷田", "ＡＢＣ", "", "斎藤"]
    givs = ["太郎", "", "花子", "一郎　"]
    kanas = ["サトウ", "タカハシ", "ヴァイオリン", "ｻﾄｳ", ""]
    addrs = ["中央町1丁目2番", "中央町一丁目二番", "本町３－４", ""]
    for _ in range(400):
        st = {"family_name": rng.choice(fams), "given_name": rng.choice(givs),
              "family_name_kana": rng.choice(kanas), "given_name_kana": rng.choice(kanas),
              "address": rng.choice(addrs)}
        assert R._search_keys(ctx, st) == row_search_keys(st)


def _split_lf(data):
    out, pos = [], 0
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    for i, line in enumerate(parts, start=1):
        out.append((i, pos, line[:-1] if line.endswith(b"\r") else line))
        pos += len(line) + 1
    return out


def test_crlf_split_equals_the_lf_split():
    _c, lay = _ctx()
    rng = random.Random(3)
    for _ in range(3000):
        data = bytes(rng.choice(b"ab\r\n") for _ in range(rng.randint(0, 14)))
        assert I.split_records(data, lay) == _split_lf(data), data
    sample = (EX / "vendor_c_sample.dat").read_bytes()
    assert I.split_records(sample, lay) == _split_lf(sample)


def test_byte_sum_in_c_equals_the_sum_of_bytes():
    rng = random.Random(4)
    for n in (0, 1, 200, 256, 257, 600, 5000):
        rec = bytes([255]) * n
        assert I._byte_sum(rec) == sum(rec)
        rec = bytes(rng.randrange(256) for _ in range(n))
        assert I._byte_sum(rec) == sum(rec)


def test_chunks_processed_in_worker_processes_equal_in_process():
    ctx, lay = _ctx({"\ue000": ("髙", "juki", "F040")})
    chunks, _n, _w = I.scan((EX / "vendor_c_sample.dat").read_bytes(), lay, 5, {})
    todo = list(enumerate(chunks))
    assert len(todo) > 2
    want = [R.process_chunk(ctx, c) for _i, c in todo]
    I._CTX, I._CHUNKS = ctx, dict(todo)
    pool = multiprocessing.get_context("fork").Pool(2, initializer=I._worker_init)
    try:
        got = [res for _i, _c, res in I._windowed(pool, todo, 3)]
    finally:
        pool.terminate()
        pool.join()
        I._CTX, I._CHUNKS = None, {}
    assert got == want


def test_snapshot_json_field_by_field_equals_json_dumps():
    from jichitai.residents.models import SNAPSHOT_FIELDS

    rng = random.Random(6)
    choices = [None, True, False, "", "佐藤", 'a"b\\c\n\x01', "\U000e0101邉", 0, 12, "\x00A"]
    for _ in range(300):
        state = {f: rng.choice(choices) for f in SNAPSHOT_FIELDS}
        for f in R._SNAP_DATES:
            state[f] = rng.choice([None, dt.date(1950, 1, 1), dt.date(2019, 5, 1)])
        snap = {f: state[f] for f in SNAPSHOT_FIELDS}
        for f in R._SNAP_DATES:
            if snap[f] is not None:
                snap[f] = snap[f].isoformat()
        assert R._snapshot_json(state) == R._json(snap)
