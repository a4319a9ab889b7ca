"""Legacy vendor migration (jichitai migrate_legacy): both example layouts, rejects, held 外字, dry run, resume after
SIGKILL, fuzzed input. Runs on SQLite and PostgreSQL (the kill test uses a scratch database of the same engine)."""
import datetime as dt
import importlib.util
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import sees_all_tenants
from django.db import connection

from jichitai.audit.models import AuditEvent
from jichitai.gaiji.models import GaijiMapping
from jichitai.migration.importer import Importer, split_records
from jichitai.migration.layout import LayoutError, load_layout, parse_layout
from jichitai.migration.models import LegacyKey, MigrationRow, MigrationRun
from jichitai.migration.report import write_report
from jichitai.migration.state import state_digest
from jichitai.residents.models import Household, Person, PersonHistory
from jichitai.tenancy.models import NumberSequence
from jichitai.tenancy.scope import tenant_scope

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"
VENDORS = {"a": "kotobuki", "b": "sakura"}
PUA = range(0xE000, 0xF900)

_spec = importlib.util.spec_from_file_location("legacy_generate", EX / "generate.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)


def approve(m, letter, codes=None):
    """Put the example vendor's approved 外字 (generate.APPROVALS) into the municipality's registry."""
    import codecs

    with tenant_scope(m):
        for sjis, text, evidence in gen.APPROVALS[letter]:
            if codes is not None and sjis not in codes:
                continue
            GaijiMapping.objects.create(pua_char=codecs.decode(bytes.fromhex(sjis), "cp932"), sjis_code=sjis,
                                        vendor=VENDORS[letter], mapped_text=text, status="approved",
                                        evidence=evidence)


def run(m, letter, data=None, **kw):
    layout = load_layout(EX / f"vendor_{letter}.toml")
    if data is None:
        data = (EX / f"vendor_{letter}_sample.dat").read_bytes()
    kw.setdefault("chunk_size", 7)
    with tenant_scope(m):
        return Importer(m, layout, VENDORS[letter], data, input_name=f"vendor_{letter}", **kw).run()


def manifest(letter):
    return json.loads((EX / f"vendor_{letter}_sample.expected.json").read_text("utf-8"))


@pytest.fixture
def muni(munis):
    return munis[0]


@sees_all_tenants
@pytest.mark.parametrize("letter", ["a", "b"])
def test_example_layout_imports(muni, letter):
    approve(muni, letter)
    rep = run(muni, letter)
    exp = manifest(letter)
    c = rep["counts"]
    assert (c["read"], c["imported"], c["held"], c["rejected"]) == (exp["rows"], exp["imported"], exp["held"],
                                                                    exp["rejected"])
    assert c["complete"] and c["accounted"] == c["read"]
    for reason in ("date", "code", "duplicate_resident_code", "head_rejected", "length", "empty", "no_head"):
        assert rep["rejected_by_reason"].get(reason, 0) >= exp["rejected_kinds"].get(reason, 0), reason
    persons = Person.all_tenants.filter(municipality=muni)
    assert persons.count() == exp["imported"]
    # nothing private-use stored; approved 外字 replaced by the MJ text
    for p in persons:
        for f in ("family_name", "given_name", "address", "honseki"):
            assert not any(ord(ch) in PUA for ch in getattr(p, f)), (f, getattr(p, f))
    assert persons.filter(family_name__startswith="髙").exists()
    assert rep["gaiji_mapped_by_evidence"]
    # households with heads, history row per person, keys, sequences, one audit event
    for hh in Household.all_tenants.filter(municipality=muni):
        members = list(persons.filter(household=hh))
        if hh.is_active:
            assert hh.head_id and [p.pk for p in members if p.is_head] == [hh.head_id]
    hist = PersonHistory.all_tenants.filter(municipality=muni)
    assert hist.count() == exp["imported"]
    assert set(hist.values_list("change_kind", flat=True)) <= {"move_in", "ex_officio_entry"}
    assert all(n.startswith("移行") for n in hist.values_list("note", flat=True))
    p = persons.filter(family_name_kana__gt="").first()
    assert p.kana_key and p.name_key and p.address_key
    assert p.family_name_kana == p.family_name_kana.upper() and not any("\uff61" <= ch <= "\uff9f"
                                                                         for ch in p.family_name_kana)
    seq = dict(NumberSequence.all_tenants.filter(municipality=muni).values_list("name", "last_value"))
    assert seq["atena"] == exp["imported"]
    assert seq["household"] == Household.all_tenants.filter(municipality=muni).count()
    with tenant_scope(muni):
        assert AuditEvent.objects.filter(action="migration.legacy_import").count() == 1
    assert LegacyKey.all_tenants.filter(municipality=muni).count() == exp["imported"]
    # 除票 from the vendor's 消除 codes, if any were generated
    for r in persons.filter(status="removed"):
        assert r.removal_reason and r.removal_date and not r.is_head


@sees_all_tenants
def test_rejects_carry_line_offset_field_reason_and_raw_bytes(muni, tmp_path):
    approve(muni, "a")
    data = (EX / "vendor_a_sample.dat").read_bytes()
    rep = run(muni, "a")
    layout = load_layout(EX / "vendor_a.toml")
    records = {ln: (off, rec) for ln, off, rec in split_records(data, layout)}
    assert rep["rejected"]
    for r in rep["rejected"]:
        off, rec = records[r["line"]]
        assert r["offset"] == off and data[off:off + len(rec)] == rec
        assert r["reason_ja"] and r["reason_en"] and r["reason_code"]
        assert rep["_raw"][r["line"]] == rec
    date = next(r for r in rep["rejected"] if r["reason_code"] == "date")
    assert date["field"] == "birth_date" and date["field_offset"] == 102
    trunc = next(r for r in rep["rejected"] if r["reason_code"] == "length")
    assert "バイト" in trunc["reason_ja"] and "bytes" in trunc["reason_en"]
    dup = [r for r in rep["rejected"] if r["reason_code"] == "duplicate_resident_code"]
    # the first holder of a duplicated 住民票コード is kept (with a row warning naming the other line), the second
    # rejected naming the first: both are reported
    assert len(dup) == 1 and dup[0]["field"] == "resident_code"
    kept = [w for w in rep["row_warnings"] if w["code"] == "duplicate_kept"]
    assert len(kept) == 1 and f"{dup[0]['line']}行目" in kept[0]["ja"] and f"{kept[0]['line']}行目" in dup[0]["reason_ja"]
    code = records[kept[0]["line"]][1][110:121].decode()
    assert Person.all_tenants.filter(municipality=muni, resident_code=code).count() == 1
    with tenant_scope(muni):
        assert LegacyKey.objects.get(person__resident_code=code).line_no == kept[0]["line"]
    out = write_report(rep, tmp_path / "rep", layout.terminator)
    files = {p.name for p in Path(out["dir"]).iterdir()}
    assert {"report.html", "report.csv", "report.json", "rejects.csv", "rejects.dat", "held.csv", "held.dat"} <= files
    raw = (tmp_path / "rep" / "rejects.dat").read_bytes()
    assert raw == b"".join(rep["_raw"][r["line"]] + b"\r\n" for r in rep["rejected"])
    csv_text = (tmp_path / "rep" / "report.csv").read_text("utf-8-sig")
    assert rep["run"]["input_sha256"] in csv_text and rep["run"]["layout_sha256"] in csv_text
    assert "gaiji_pending,F042" in csv_text
    html = (tmp_path / "rep" / "report.html").read_text("utf-8")
    assert "F042" in html and "every row is in exactly one place" in html
    assert MigrationRow.objects.filter(outcome="rejected").count() == rep["counts"]["rejected"]


@sees_all_tenants
def test_held_rows_imported_after_approval_and_rerun(muni):
    approve(muni, "a")
    rep = run(muni, "a")
    assert rep["counts"]["held"] == 6 and rep["gaiji_pending"][0]["code"] == "F042"
    # the unknown code was added to the registry for review (確認待ち, no mapping), with an event and an audit entry
    assert rep["gaiji_pending"][0]["registry_status"] == "proposed"
    assert rep["this_run"]["gaiji_registered"] == ["F042"]
    with tenant_scope(muni):
        g = GaijiMapping.objects.get(vendor="kotobuki", sjis_code="F042")
        assert g.status == "proposed" and g.mapped_text == "" and g.pua_char == "\ue002"
        assert [e.action for e in g.events.all()] == ["registered"]
        assert AuditEvent.objects.filter(action="gaiji.registered_from_migration").count() == 1
    before = rep["counts"]["imported"]
    again = run(muni, "a")  # nothing approved since: nothing changes, no second audit event
    assert again["counts"] == rep["counts"] and not again["this_run"]["changed"]
    assert again["this_run"]["gaiji_registered"] == []
    with tenant_scope(muni):
        GaijiMapping.objects.filter(pk=g.pk).update(mapped_text="邉", status="approved", evidence="manual")
    rep2 = run(muni, "a")
    c = rep2["counts"]
    assert (c["held"], c["imported"], c["resolved_after_hold"]) == (0, before + 6, 6)
    assert c["accounted"] == c["read"] and rep2["this_run"]["resolved_from_held"] == 6
    persons = Person.all_tenants.filter(municipality=muni)
    assert persons.filter(family_name="渡邉").count() == 6
    # the lone held child joined its (already imported) household; the held household came with its head
    for p in persons.filter(family_name="渡邉"):
        assert p.household.head_id is not None
        assert p.household.head.family_name in ("渡邉",) or not p.is_head
    with tenant_scope(muni):
        assert AuditEvent.objects.filter(action="migration.legacy_import").count() == 2
    assert NumberSequence.all_tenants.get(municipality=muni, name="atena").last_value == before + 6
    # and a further re-run is a no-op
    rep3 = run(muni, "a")
    assert rep3["counts"] == c and not rep3["this_run"]["changed"]


@sees_all_tenants
def test_dry_run_writes_nothing_and_reports_the_same(muni, munis):
    approve(muni, "b")
    dry = run(muni, "b", dry_run=True)
    assert Person.all_tenants.count() == 0 and Household.all_tenants.count() == 0
    assert MigrationRun.all_tenants.count() == 0 and LegacyKey.all_tenants.count() == 0
    assert not NumberSequence.all_tenants.exists()
    with tenant_scope(muni):
        assert not AuditEvent.objects.exists()
    real = run(muni, "b")
    for key in ("counts", "rejected_by_reason", "gaiji_mapped_by_evidence", "gaiji_pending", "field_errors"):
        assert dry[key] == real[key], key
    assert dry["this_run"]["dry_run"] and not real["this_run"]["dry_run"]


@sees_all_tenants
def test_rerun_is_idempotent_and_other_municipality_untouched(muni, munis):
    approve(muni, "a")
    run(muni, "a")
    with tenant_scope(muni):
        d1 = state_digest(muni)
    run(muni, "a", chunk_size=50)  # a different chunk size is ignored: the run keeps its own
    with tenant_scope(muni):
        assert state_digest(muni) == d1
    assert Person.all_tenants.filter(municipality=munis[1]).count() == 0
    # the same persons from another file (other sha) are not imported twice
    data = (EX / "vendor_a_sample.dat").read_bytes() + b"\r\n"
    rep = run(muni, "a", data=data)
    assert rep["counts"]["imported"] == 0
    assert rep["rejected_by_reason"].get("already_migrated", 0) + rep["rejected_by_reason"].get(
        "existing_resident_code", 0) > 0
    assert Person.all_tenants.filter(municipality=muni).count() == d1["counts"]["persons"]


def test_layout_errors_are_reported_at_once():
    with pytest.raises(LayoutError) as e:
        parse_layout({"record_length": 10, "fields": [
            {"name": "family_name", "offset": 0, "length": 8, "type": "text"},
            {"name": "nosuch", "offset": 8, "length": 2},
            {"name": "sex", "offset": 6, "length": 4, "type": "code", "codes": "missing"}]})
    msg = str(e.value)
    assert "nosuch" in msg and "missing" in msg and "birth_date" in msg


def _clean_single_households(letter, n, start):
    g = gen.Gen(letter, seed=start, gaiji_rate=0.0)
    g.person_no = start
    g.household_no = start
    rows = []
    for _ in range(n):
        v = g.household(head_only=True)[0]
        rows.append((v["atena_no"], g.encode(v)))
    return g, rows


@sees_all_tenants
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzzed_input_never_crashes_and_keeps_every_valid_row(muni, seed):
    rng = random.Random(seed)
    letter = "ab"[seed % 2]
    layout = load_layout(EX / f"vendor_{letter}.toml")
    term = layout.terminator or b"\n"
    _g, valid = _clean_single_households(letter, 40, 1000 * seed)
    g2, others = _clean_single_households(letter, 40, 900_000 + 1000 * seed)
    lines = [rec for _k, rec in valid]
    for _k, rec in others:  # junk made from rows that are not in the file otherwise
        kind = rng.choice(["trunc", "flip", "utf8", "eucjp", "random", "long", "nul"])
        if kind == "trunc":
            lines.append(rec[:rng.randrange(len(rec))])
        elif kind == "flip":
            b = bytearray(rec)
            for _ in range(rng.randint(1, 5)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            lines.append(bytes(b).replace(b"\n", b"?"))
        elif kind in ("utf8", "eucjp"):
            v = g2.household(head_only=True)[0]
            lines.append(gen.encode(g2.lay, v, "utf-8" if kind == "utf8" else "euc_jp"))
        elif kind == "random":
            lines.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2 * len(rec)))))
        elif kind == "long":
            lines.append(rec + b"XYZ")
        else:
            lines.append(b"\x00" * len(rec))
    rng.shuffle(lines)
    data = term.join(lines) + (term if rng.random() < 0.5 else b"")
    rep = run(muni, letter, data=data, chunk_size=9)
    c = rep["counts"]
    assert c["complete"] and c["accounted"] == c["read"]
    imported = set(LegacyKey.all_tenants.filter(municipality=muni).values_list("person_key", flat=True))
    missing = [k for k, _ in valid if k not in imported]
    assert not missing, (missing, rep["rejected"][:3])
    for p in Person.all_tenants.filter(municipality=muni):
        assert not any(ord(ch) in PUA or ord(ch) < 0x20 for ch in p.family_name + p.given_name + p.address)


@pytest.mark.parametrize("kind", ["random", "utf8_file", "eucjp_file", "empty"])
def test_whole_file_garbage_or_wrong_encoding(muni, kind):
    data = (EX / "vendor_a_sample.dat").read_bytes()
    if kind == "random":
        data = bytes(random.Random(5).randrange(256) for _ in range(20_000))
    elif kind == "empty":
        data = b""
    else:
        data = data.decode("cp932", "replace").encode("utf-8" if kind == "utf8_file" else "euc_jp", "replace")
    rep = run(muni, "a", data=data)
    c = rep["counts"]
    assert c["accounted"] == c["read"] and c["complete"]
    if kind == "utf8_file":
        assert rep["warnings"]
    if kind != "eucjp_file":
        assert c["imported"] == 0


# ---------------------------------------------------------------------------------------------- kill -9 and resume

JICHITAI = str(ROOT / ".venv" / "bin" / "jichitai")

SETUP = """
from jichitai.tenancy.models import Prefecture, Municipality
from jichitai.gaiji.models import GaijiMapping
from jichitai.tenancy.scope import tenant_scope
p = Prefecture.objects.create(code='44', name='大分県')
m = Municipality.objects.create(code='44204', name='日田市', prefecture=p)
import os
# one mapping per legacy code per municipality: the 外字 of the vendor this run migrates from
if os.environ["JICHITAI_TEST_VENDOR"] == 'kotobuki':
    with tenant_scope(m):
        GaijiMapping.objects.create(pua_char='\\ue000', sjis_code='F040', vendor='kotobuki', mapped_text='髙', status='approved', evidence='juki')
        GaijiMapping.objects.create(pua_char='\\ue001', sjis_code='F041', vendor='kotobuki', mapped_text='𠮷', status='approved', evidence='koseki')
else:
    with tenant_scope(m):
        for ch, code, text in (('\\ue000', 'F040', '髙'), ('\\ue001', 'F041', '𠮷'), ('\\ue002', 'F042', '邉\\U000E010F')):
            GaijiMapping.objects.create(pua_char=ch, sjis_code=code, vendor='himawari', mapped_text=text, status='approved', evidence='juki')
"""
DIGEST = """
import json
from jichitai.tenancy.models import Municipality
from jichitai.tenancy.scope import tenant_scope
from jichitai.migration.state import state_digest
from jichitai.audit.models import AuditEvent
m = Municipality.objects.get(code='44204')
with tenant_scope(m):
    d = state_digest(m)
    d['audit'] = AuditEvent.objects.filter(action='migration.legacy_import').count()
print('DIGEST ' + json.dumps(d, sort_keys=True))
"""


class Scratch:
    """A scratch database of the suite's engine for subprocesses: SQLite file or PostgreSQL database."""

    def __init__(self, tmp, name):
        self.tmp = tmp
        self.name = name
        self.env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        self.env["JICHITAI_VAR_DIR"] = str(tmp / name)
        (tmp / name).mkdir(parents=True, exist_ok=True)
        self.pg = connection.vendor == "postgresql"
        if self.pg:
            base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
            self.db = f"jichitai_migkill_{os.getpid()}_{name}"
            self.env["DATABASE_URL"] = f"{base}/{self.db}"

    def sh(self, *args, check=True, **kw):
        return subprocess.run([JICHITAI, *args], env=self.env, capture_output=True, text=True, check=check, **kw)

    def admin(self, sql):
        import psycopg

        s = connection.settings_dict
        with psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"],
                             dbname="postgres", autocommit=True) as c:
            c.execute(sql)

    def create(self, setup=True):
        if self.pg:
            self.admin(f'DROP DATABASE IF EXISTS "{self.db}"')
            self.admin(f'CREATE DATABASE "{self.db}"')
        self.sh("migrate", "-v", "0")
        if setup:
            self.sh("shell", "-c", SETUP)

    def clone(self, name):
        other = Scratch(self.tmp, name)
        if self.pg:
            self.admin(f'DROP DATABASE IF EXISTS "{other.db}"')
            self.admin(f'CREATE DATABASE "{other.db}" TEMPLATE "{self.db}"')
        else:
            for f in (self.tmp / self.name).iterdir():
                shutil.copy(f, self.tmp / name / f.name)
        return other

    def drop(self):
        if self.pg:
            self.admin(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')

    def digest(self):
        out = self.sh("shell", "-c", DIGEST).stdout
        return json.loads(out.split("DIGEST ", 1)[1])


KILL_RUNS = {"a": ("kotobuki", 4, 0.15), "c": ("himawari", 3, 0.3)}  # vendor, chunk size, sleep per chunk (s)


def _args(report, letter="a"):
    vendor, chunk, _sleep = KILL_RUNS[letter]
    return ["migrate_legacy", "--municipality", "44204", "--layout", str(EX / f"vendor_{letter}.toml"), "--vendor",
            vendor, str(EX / f"vendor_{letter}_sample.dat"), "--chunk-size", str(chunk), "--report", str(report)]


@pytest.mark.parametrize("letter", ["a", "c"])
def test_sigkill_at_random_points_then_resume_equals_uninterrupted_run(tmp_path, letter):
    """Killed with SIGKILL at random moments, then run again: the same state as an uninterrupted run (persons,
    every history generation, extras, outcomes, chunks, number series). Robust under CPU load: each chunk sleeps
    long enough that an uninterrupted run outlasts the kill window, and the test kills until it has killed at
    least once (a process that ended by itself before the kill does not count)."""
    base = Scratch(tmp_path, "base")
    base.env["JICHITAI_TEST_VENDOR"] = KILL_RUNS[letter][0]
    clean = killed = None
    try:
        base.create()
        clean, killed = base.clone("clean"), base.clone("killed")
        r = clean.sh(*_args(tmp_path / "rep-clean", letter))
        assert "imported" in r.stdout
        want = clean.digest()
        assert want["counts"]["persons"] == manifest(letter)["imported"] and want["audit"] == 1
        if letter == "c":
            assert want["counts"]["history"] == manifest("c")["imported"] + manifest("c")["history_lines"]
            assert want["counts"]["extras"] == 2 * manifest("c")["imported"]
        rng = random.Random(os.getpid())
        env = dict(killed.env, JICHITAI_MIGRATION_SLEEP=str(KILL_RUNS[letter][2]))
        kills = attempts = 0
        while attempts < 10 and (kills < 3 and not (kills >= 1 and attempts >= 4)):
            attempts += 1
            p = subprocess.Popen([JICHITAI, *_args(tmp_path / "rep-killed", letter)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.8, 2.5))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            p.communicate()
            if p.returncode == 0:
                break  # it finished by itself: nothing left to interrupt
        assert kills >= 1, f"no kill in {attempts} attempts"
        partial = killed.digest()
        assert partial["counts"]["persons"] <= want["counts"]["persons"]
        killed.sh(*_args(tmp_path / "rep-killed", letter))
        got = killed.digest()
        assert got == want
        # the report of the resumed run says the same as the uninterrupted one
        a = json.loads((tmp_path / "rep-clean" / "report.json").read_text("utf-8"))
        b = json.loads((tmp_path / "rep-killed" / "report.json").read_text("utf-8"))
        assert a["counts"] == b["counts"] and a["rejected_by_reason"] == b["rejected_by_reason"]
        assert a["row_warnings"] == b["row_warnings"] and a["status"] == b["status"]
    finally:
        for s in (base, clean, killed):
            if s is not None:
                s.drop()
