"""Legacy migration, layout format 2 (examples/vendor_c.toml): record types, header and trailer checks, history
generations, era rules, duplicates, household fallback, half-width fields, check digit, extras. Both engines."""
import datetime as dt
import json

import pytest

from jichitai.audit.models import AuditEvent
from jichitai.common.checkdigits import resident_code_check_digit, verify_resident_code_check_digit
from jichitai.common.wareki import DateInputError, parse_date
from jichitai.migration.importer import split_records
from jichitai.migration.layout import LayoutError, load_layout, parse_layout
from jichitai.migration.models import LegacyKey, MigrationRow, MigrationRun
from jichitai.residents.models import Person, PersonHistory
from jichitai.tenancy.scope import tenant_scope
from test_migration import EX, VENDORS, approve, gen, manifest, muni, run  # noqa: F401  (tests/ is on the path)


@pytest.fixture(autouse=True)
def _reads_across_the_scope():
    """These tests check the loaded rows of one municipality as the migration's own verification does, outside a
    request's scope: in `cross_tenant` (row-level security on PostgreSQL)."""
    from jichitai.tenancy.scope import cross_tenant

    with cross_tenant("test: legacy import results"):
        yield

VENDORS.setdefault("c", "himawari")


def _sample():
    return (EX / "vendor_c_sample.dat").read_bytes()


def _lines(data=None):
    return split_records(data or _sample(), load_layout(EX / "vendor_c.toml"))


def _with_trailer(data, **changes):
    """The sample with the trailer's fields rewritten (name → text)."""
    lay = load_layout(EX / "vendor_c.toml")
    recs = [r for _ln, _o, r in _lines(data)]
    t = bytearray(recs[-1])
    for name, value in changes.items():
        f = lay.record_types["9"].by_name[name]
        t[f.offset:f.end] = value.encode().rjust(f.length, b"0")
    recs[-1] = bytes(t)
    return b"".join(r + b"\r\n" for r in recs)


def test_sample_is_what_the_generator_writes():
    data, man, table = gen.generate_vendor_c()
    assert data == _sample() and json.loads(json.dumps(man)) == manifest("c")
    assert table == (EX / "vendor_c_gaiji.csv").read_text("utf-8")


def test_vendor_c_counts_generations_and_report(muni):
    approve(muni, "c")
    rep = run(muni, "c")
    exp = manifest("c")
    c = rep["counts"]
    assert (c["read"], c["imported"], c["history_lines"], c["duplicates"], c["control_records"], c["held"],
            c["rejected"]) == (exp["rows"], exp["imported"], exp["history_lines"], exp["duplicates"],
                               exp["control_records"], exp["held"], exp["rejected"])
    assert c["accounted"] == c["read"]
    assert rep["rejected_by_reason"] == exp["rejected_kinds"]
    assert rep["trailer"]["ok"] and not rep["trailer"]["overridden"] and len(rep["trailer"]["checks"]) == 3
    # counts per record type and per generation
    assert rep["by_record_type"]["H"] == 1 and rep["by_record_type"]["9"] == 1 and rep["by_record_type"]["2"] == 2
    assert rep["by_generation"]["04"] == 1 and sum(rep["by_generation"].values()) == c["read"] - 3
    # rows held for 外字 or rejected: not 「完了」, and the report says what was not carried
    assert rep["status"] != "completed" and rep["not_complete_because"]
    persons = Person.all_tenants.filter(municipality=muni)
    assert persons.count() == exp["imported"]
    hist = PersonHistory.all_tenants.filter(municipality=muni)
    assert hist.count() == exp["imported"] + exp["history_lines"]
    for p in persons:
        assert p.version == hist.filter(person=p).count()


def test_four_generations_are_four_history_rows_with_their_own_change_kinds(muni):
    approve(muni, "c")
    rep = run(muni, "c")
    key = LegacyKey.all_tenants.get(municipality=muni, person_key=manifest("c")["four_generations_person_key"])
    p = Person.all_tenants.get(pk=key.person_id)
    rows = list(PersonHistory.all_tenants.filter(person=p).order_by("history_no"))
    assert [h.history_no for h in rows] == [1, 2, 3, 4] and p.version == 4
    assert [h.change_kind for h in rows] == ["move_in", "move_within", "head_change", "ex_officio_correction"]
    # 平成31年5月10日 and 平成32年3月1日: era overflow, converted
    assert [h.change_date for h in rows] == [dt.date(1998, 4, 1), dt.date(2019, 5, 10), dt.date(2020, 3, 1),
                                             dt.date(2021, 7, 1)]
    assert [h.notification_date for h in rows] == [h.change_date for h in rows]
    # the vendor's original code beside the mapped value (A1 and A2 both map to 転入)
    assert [h.note.split("旧コード ")[1].split("）")[0].split()[0] for h in rows] == [
        "change_kind=A2", "change_kind=C1", "change_kind=D1", "change_kind=E2"]
    assert all("履歴番号 0" in h.note for h in rows)
    # each snapshot is its own generation's state; the newest is the current one
    assert rows[0].snapshot["address"] == "本町1丁目1番" and rows[1].snapshot["address"] == "本町2丁目2番"
    assert p.address == "本町2丁目2番" and rows[-1].snapshot["atena_no"] == p.atena_no
    assert {h.snapshot["household_no"] for h in rows} == {p.household.household_no}
    # the era overflow warnings name line and field
    lines = {ln for ln, _o, r in _lines() if r[11:21] == key.person_key.encode()}
    over = [w for w in rep["row_warnings"] if w["code"] == "era_overflow"]
    assert len(over) == manifest("c")["era_overflow_warnings"]
    assert {w["line"] for w in over} <= lines and {w["field"] for w in over} == {"change_date", "notification_date"}
    assert all("平成" in w["ja"] and w["field_offset"] in (166, 173) for w in over)


def test_transition_days_removed_records_fallback_and_duplicates(muni):
    approve(muni, "c")
    rep = run(muni, "c")
    persons = Person.all_tenants.filter(municipality=muni)
    # both writings of the transition days
    assert persons.filter(birth_date=dt.date(1926, 12, 25)).count() == 2
    assert persons.filter(birth_date=dt.date(1912, 7, 30)).count() == 1
    # a date before its era began is rejected (令和元年4月10日), and the head falls back to its earlier generation
    bad = next(r for r in rep["rejected"] if r["reason_code"] == "date")
    assert bad["field"] == "change_date" and "令和" in bad["reason_ja"]
    fb = [w for w in rep["row_warnings"] if w["code"] == "generation_fallback"]
    assert len(fb) == 1 and f"{bad['line']}行目" in fb[0]["ja"]
    head = Person.all_tenants.get(pk=LegacyKey.all_tenants.get(line_no=fb[0]["line"]).person_id)
    assert head.is_head and head.address == "緑ケ丘3丁目3番" and head.household.head_id == head.pk
    assert persons.filter(household=head.household).count() == 2  # the member is not rejected with it
    assert not any(r["reason_code"] == "head_rejected" for r in rep["rejected"])
    # 除票 record type: the person's newest generation is a 死亡 record
    gone = persons.filter(status="removed")
    assert gone.count() == 1 and gone[0].removal_reason == "死亡" and gone[0].removal_date == dt.date(2023, 1, 5)
    assert PersonHistory.all_tenants.filter(person=gone[0]).order_by("-history_no")[0].change_kind == "death"
    # an identical repeat is kept once and reported; a conflicting one: the first kept, both reported
    assert len(rep["duplicates"]) == 1 and rep["duplicates"][0]["reason_code"] == "duplicate_identical"
    conflict = next(r for r in rep["rejected"] if r["reason_code"] == "duplicate_person_key")
    kept = [w for w in rep["row_warnings"] if w["code"] == "duplicate_kept"]
    assert len(kept) == 1 and f"{conflict['line']}行目" in kept[0]["ja"]
    assert LegacyKey.all_tenants.filter(line_no=kept[0]["line"]).exists()
    assert MigrationRow.objects.filter(outcome="duplicate").count() == 1


def test_fullwidth_in_halfwidth_field_check_digit_and_record_type(muni):
    approve(muni, "c")
    rep = run(muni, "c")
    fw = next(r for r in rep["rejected"] if r["reason_code"] == "fullwidth")
    assert fw["field"] == "family_name_kana" and fw["field_offset"] == 74 and "全角" in fw["reason_ja"]
    rule = next(r for r in rep["rejected"] if r["reason_code"] == "rule")
    assert rule["field"] == "resident_code" and "検査数字" in rule["reason_ja"]
    rt = next(r for r in rep["rejected"] if r["reason_code"] == "record_type")
    assert "5" in rt["reason_ja"]
    # every imported 住民票コード has a valid check digit
    for code in Person.all_tenants.filter(municipality=muni).values_list("resident_code", flat=True):
        verify_resident_code_check_digit(code)


def test_trailer_mismatch_stops_the_import_unless_overridden(muni):
    approve(muni, "c")
    data = _with_trailer(_sample(), record_count="38")
    rep = run(muni, "c", data=data)
    assert rep["status"] == "stopped" and "中止" in rep["status_ja"]
    failed = [ch for ch in rep["trailer"]["checks"] if not ch["ok"]]
    assert [(ch["check"], ch["expected"], ch["actual"]) for ch in failed] == [("record_count", "00000038", "39")]
    assert not rep["counts"]["complete"] and rep["counts"]["imported"] == 0
    assert Person.all_tenants.filter(municipality=muni).count() == 0
    assert not MigrationRun.all_tenants.exists() and not MigrationRow.objects.exists()
    with tenant_scope(muni):
        assert not AuditEvent.objects.filter(action="migration.legacy_import").exists()
    # with the operator's override: imported, and the report and the audit event say so
    rep = run(muni, "c", data=data, accept_trailer_mismatch=True)
    assert rep["trailer"]["overridden"] and not rep["trailer"]["ok"]
    assert rep["counts"]["imported"] == manifest("c")["imported"]
    assert any("accept-trailer-mismatch" in w for w in rep["warnings"])
    with tenant_scope(muni):
        ev = AuditEvent.objects.get(action="migration.legacy_import")
        detail = json.loads(ev.detail) if isinstance(ev.detail, str) else ev.detail
        assert detail["trailer_overridden"] is True and detail["trailer_ok"] is False


@pytest.mark.parametrize("change", [{"resident_code_total": "1"}, {"byte_sum": "12345"}, "no_trailer"])
def test_each_trailer_check_and_a_missing_trailer_stop_the_import(muni, change):
    data = _sample()
    if change == "no_trailer":
        data = b"".join(r + b"\r\n" for _ln, _o, r in _lines(data)[:-1])
    else:
        data = _with_trailer(data, **change)
    rep = run(muni, "c", data=data)
    assert rep["status"] == "stopped" and not rep["trailer"]["ok"]
    assert Person.all_tenants.filter(municipality=muni).count() == 0


def test_era_rules():
    for a, b in (("明治45年7月30日", "大正元年7月30日"), ("大正15年12月25日", "昭和元年12月25日"),
                 ("1450730", "2010730"), ("2151225", "3011225")):
        assert parse_date(a) == parse_date(b)
    assert parse_date("昭和64年1月7日") == dt.date(1989, 1, 7) and parse_date("平成元年1月8日") == dt.date(1989, 1, 8)
    assert parse_date("平成31年4月30日") == dt.date(2019, 4, 30) and parse_date("令和元年5月1日") == dt.date(2019, 5, 1)
    for before in ("令和元年4月30日", "平成元年1月7日", "昭和元年12月24日", "大正元年7月29日", "5010430"):
        with pytest.raises(DateInputError):
            parse_date(before, [])  # a date before its era began: rejected even where overflow is accepted
    for after in ("明治45年7月31日", "昭和64年1月8日", "平成31年5月1日", "平成32年1月1日"):
        with pytest.raises(DateInputError):
            parse_date(after)
    w = []
    assert parse_date("平成32年1月1日", w) == dt.date(2020, 1, 1) and "平成" in w[0]
    assert parse_date("4310501", w) == dt.date(2019, 5, 1) and len(w) == 2


def test_resident_code_check_digit():
    code = gen.resident_code("1234567890")
    assert verify_resident_code_check_digit(code) == code and int(code[10]) == resident_code_check_digit(code[:10])
    with pytest.raises(ValueError):
        verify_resident_code_check_digit(code[:10] + str((int(code[10]) + 1) % 10))


def _v2(**over):
    import tomllib

    d = tomllib.loads((EX / "vendor_c.toml").read_text("utf-8"))
    d.update(over)
    return d


def test_layout_v2_errors_are_reported_at_once():
    d = _v2()
    d["records"][1]["role"] = "citizen"
    d["records"][2]["fields"] = [f for f in d["records"][2]["fields"] if f["name"] != "change_kind"]
    d["records"][3]["fields"][1]["of"] = "nothing"
    with pytest.raises(LayoutError) as e:
        parse_layout(d)
    msg = str(e.value)
    assert "role" in msg and "除票レコード" in msg and "nothing" in msg
    # v1 layouts refuse the v2 options
    import tomllib

    a = tomllib.loads((EX / "vendor_a.toml").read_text("utf-8"))
    a["fields"][3]["halfwidth_only"] = True
    with pytest.raises(LayoutError, match="halfwidth_only"):
        parse_layout(a)
    # v1 layouts keep working and do not check the 住民票コード check digit (their samples have none)
    assert not load_layout(EX / "vendor_a.toml").resident_code_check_digit
    assert load_layout(EX / "vendor_c.toml").resident_code_check_digit
    d = _v2(resident_code_check_digit=False)
    assert not parse_layout(d).resident_code_check_digit


def test_check_digit_option_off_imports_the_row(muni):
    import tempfile

    approve(muni, "c")
    lay = _v2(resident_code_check_digit=False)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(lay, f, ensure_ascii=False)
    layout = load_layout(f.name)
    from jichitai.migration.importer import Importer

    with tenant_scope(muni):
        rep = Importer(muni, layout, "himawari", _sample(), chunk_size=7).run()
    assert "rule" not in rep["rejected_by_reason"]
    assert rep["counts"]["imported"] == manifest("c")["imported"] + 1


def test_held_generations_are_imported_together_after_approval(muni):
    approve(muni, "c")
    rep = run(muni, "c")
    assert rep["counts"]["held"] == 2
    import codecs

    from jichitai.gaiji.models import GaijiMapping

    with tenant_scope(muni):
        m = GaijiMapping.objects.get(vendor="himawari", sjis_code="F043")
        GaijiMapping.objects.filter(pk=m.pk).update(mapped_text="渡", status="approved", evidence="juki")
    assert codecs.decode(bytes.fromhex("F043"), "cp932") == m.pua_char
    before = rep["row_warnings"]
    rep = run(muni, "c")
    assert rep["counts"]["held"] == 0 and rep["counts"]["resolved_after_hold"] == 2
    assert rep["row_warnings"] == before  # the retried rows' warnings are not repeated
    p = Person.all_tenants.get(municipality=muni, family_name="渡野")
    assert [h.change_kind for h in PersonHistory.all_tenants.filter(person=p).order_by("history_no")] == [
        "move_in", "move_within"]
    assert rep["counts"]["accounted"] == rep["counts"]["read"]


def test_command_stops_on_trailer_mismatch_and_report_files(muni, tmp_path):
    from django.core.management import CommandError, call_command

    approve(muni, "c")
    bad = tmp_path / "bad.dat"
    bad.write_bytes(_with_trailer(_sample(), byte_sum="1"))
    args = ["migrate_legacy", str(bad), "--municipality", muni.code, "--layout", str(EX / "vendor_c.toml"),
            "--vendor", "himawari", "--report", str(tmp_path / "r1")]
    with pytest.raises(CommandError, match="中止"):
        call_command(*args)
    csv_text = (tmp_path / "r1" / "report.csv").read_text("utf-8-sig")
    assert "trailer_check,byte_sum:byte_sum,NG" in csv_text
    assert Person.all_tenants.filter(municipality=muni).count() == 0
    call_command(*args, "--accept-trailer-mismatch")
    csv_text = (tmp_path / "r1" / "report.csv").read_text("utf-8-sig")
    assert "trailer_check,overridden,true" in csv_text and "by_generation,04,1" in csv_text
    assert "row_warnings,era_overflow,4" in csv_text
    html = (tmp_path / "r1" / "report.html").read_text("utf-8")
    assert "不一致を操作者が承知で取り込みました" in html and "行ごとの警告" in html
    warn = (tmp_path / "r1" / "warnings.csv").read_text("utf-8-sig").splitlines()
    assert warn[0].startswith("line,offset,code") and sum("era_overflow" in x for x in warn) == 4
    assert len((tmp_path / "r1" / "duplicates.dat").read_bytes()) == 202


def test_fields_without_a_target_are_kept_as_extras(muni):
    from jichitai.migration.models import PersonExtra

    approve(muni, "c")
    rep = run(muni, "c")
    n = rep["counts"]["imported"]
    assert rep["extras"]["stored"] and rep["extras"]["fields"] == ["last_updated", "town_code"]
    assert rep["extras"]["persons_with_value"] == {"last_updated": n, "town_code": n} and not rep["not_carried"]
    extras = PersonExtra.all_tenants.filter(municipality=muni)
    assert extras.count() == 2 * n
    assert set(extras.filter(name="last_updated").values_list("value", flat=True)) == {"2025-12-01"}
    assert all(len(v) == 7 and v.isdigit() for v in extras.filter(name="town_code").values_list("value", flat=True))
    assert set(extras.values_list("source", flat=True)) == {"himawari"}


def test_export_import_export_is_byte_identical_with_generations_and_extras(muni, munis, tmp_path):
    from jichitai.interchange.export import export_municipality
    from jichitai.interchange.importer import import_directory
    from jichitai.interchange.layout import RESOURCES
    from jichitai.migration.models import PersonExtra
    from jichitai.privacy import policy
    from jichitai.tenancy.models import Municipality

    approve(muni, "c")
    run(muni, "c")
    full = policy.for_export(None, include_protected_addresses=True, system=True)
    when = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)
    with tenant_scope(muni):
        export_municipality(tmp_path / "a", reader=full, created_at=when)
    other = Municipality.objects.create(code="44206", name="臼杵市", prefecture=muni.prefecture)
    import_directory(tmp_path / "a", municipality_code=other.code)
    with tenant_scope(other):
        export_municipality(tmp_path / "b", reader=full, created_at=when)
        assert PersonExtra.objects.count() == PersonExtra.all_tenants.filter(municipality=muni).count() > 0
    for r in RESOURCES:
        assert (tmp_path / "a" / r.path).read_bytes() == (tmp_path / "b" / r.path).read_bytes(), r.path
    extras = (tmp_path / "a" / "person_extras.csv").read_text("utf-8").splitlines()
    assert extras[0] == "atena_no,name,value,source" and len(extras) == 1 + 2 * manifest("c")["imported"]
    hist = (tmp_path / "a" / "history.csv").read_text("utf-8")
    assert "change_kind=E2" in hist and "head_change" in hist


# ---------------------------------------------------------------------- the vendor's 外字対応表

def _import_table(m, user, data=None):
    from django.core.management import call_command

    path = EX / "vendor_c_gaiji.csv"
    if data is not None:
        import tempfile

        with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as f:
            f.write(data)
        path = f.name
    call_command("gaiji", "import-table", str(path), "--municipality", m.code, "--vendor", "himawari",
                 "--user", user.username)


def test_gaiji_table_import_then_migration(town_a):
    from jichitai.gaiji.models import GaijiMapping, GaijiMappingEvent

    m = town_a.m
    _import_table(m, town_a.user)
    exp = manifest("c")["gaiji_table"]
    with tenant_scope(m):
        got = {g.sjis_code: g for g in GaijiMapping.objects.filter(vendor="himawari")}
        assert sorted(c for c, g in got.items() if g.status == "approved") == exp["approved"]
        assert sorted(c for c, g in got.items() if g.status == "proposed") == exp["proposed"]
        assert {got[c].evidence for c in exp["approved"]} == {"mj_table"}
        assert got["F042"].mapped_text == "邉\U000E010F" and got["F042"].mj_name == "MJ026190"
        assert got["F044"].glyph_png and not got["F043"].glyph_png and not got["F043"].mj_name
        assert "U+9AD8" in got["F044"].vendor_note and got["F044"].evidence == ""
        assert [e.action for e in got["F040"].events.order_by("id")] == ["table_imported", "auto_approved"]
        assert "UCS" in got["F044"].events.get().note
        assert AuditEvent.objects.filter(action="gaiji.table_imported").count() == 1
        n_events = GaijiMappingEvent.objects.count()
    # importing it again changes nothing (codes already registered are left as they are)
    _import_table(m, town_a.user)
    with tenant_scope(m):
        assert GaijiMappingEvent.objects.count() == n_events
    # the migration then finds what the manifest says, without any approval by hand
    rep = run(m, "c")
    c, e = rep["counts"], manifest("c")
    assert (c["imported"], c["held"], c["rejected"]) == (e["imported"], e["held"], e["rejected"])
    assert rep["gaiji_mapped_by_evidence"] == {"mj_table": 3}
    assert Person.all_tenants.filter(municipality=m, family_name="邉\U000E010F田").exists()


def test_a_bad_gaiji_table_registers_nothing(town_a):
    from django.core.management import CommandError

    from jichitai.gaiji.models import GaijiMapping

    bad = ("vendor_code,mj_name,ucs,char,note\nF040,MJ028902,U+9AD9,髙,\n1234,,,,\nF041,,U+ZZZZ,,\n"
           "F040,,,,again\n").encode("utf-8")
    with pytest.raises(CommandError) as e:
        _import_table(town_a.m, town_a.user, bad)
    msg = str(e.value)
    assert "3行目" in msg and "4行目" in msg and "5行目" in msg and "何も登録していません" in msg
    with tenant_scope(town_a.m):
        assert not GaijiMapping.objects.exists()
        assert not AuditEvent.objects.filter(action="gaiji.table_imported").exists()


def test_gaiji_table_screen_and_review_say_what_was_checked(town_a, login):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from jichitai.gaiji import actions as gaiji_actions
    from jichitai.gaiji.models import GaijiMapping

    client = login(town_a.user)
    page = client.get("/gaiji/import/")
    assert page.status_code == 200 and "外字対応表の読み込み" in page.content.decode()
    upload = SimpleUploadedFile("vendor_c_gaiji.csv", (EX / "vendor_c_gaiji.csv").read_bytes(), "text/csv")
    r = client.post("/gaiji/import/", {"vendor": "himawari", "table": upload})
    body = r.content.decode()
    assert r.status_code == 200 and body.count("自動承認") >= 3 and "字形画像なし" in body
    with tenant_scope(town_a.m):
        f043 = GaijiMapping.objects.get(vendor="himawari", sjis_code="F043")
        f044 = GaijiMapping.objects.get(vendor="himawari", sjis_code="F044")
        f040 = GaijiMapping.objects.get(vendor="himawari", sjis_code="F040")
    review = client.get(f"/gaiji/{f043.pk}/").content.decode()
    assert "字形画像なし" in review and "<img" not in review.split("ベンダーの字形")[1].split("</section>")[0]
    review = client.get(f"/gaiji/{f044.pk}/").content.decode()
    assert f"/gaiji/{f044.pk}/glyph.png" in review and "字形画像なし" not in review
    review = client.get(f"/gaiji/{f040.pk}/").content.decode()
    assert "ベンダー対応表のMJ図形名とUCS" in review and "目視確認" not in review
    # approving a code without a glyph is recorded as what it was: no glyph was compared
    with tenant_scope(town_a.m):
        from conftest import make_user
        from jichitai.residents.actions import Actor

        # a second admin decides: who imported the table proposed the mapping
        second = Actor(user=make_user("admin-a-review", "admin", town_a.m), terminal="t", municipality=town_a.m)
        m = gaiji_actions.approve_manually(second, f043, mj_name="MJ028902", expected_version=f043.version)
        assert m.evidence == "manual_ng" and "目視確認" not in m.get_evidence_display()
        assert "字形は比較していません" in m.get_evidence_display()
    # a table with errors: 422, nothing registered, the lines named
    upload = SimpleUploadedFile("bad.csv", b"vendor_code\nZZZZ\n", "text/csv")
    r = client.post("/gaiji/import/", {"vendor": "other", "table": upload})
    assert r.status_code == 422 and "2行目" in r.content.decode()
    with tenant_scope(town_a.m):
        assert not GaijiMapping.objects.filter(vendor="other").exists()
