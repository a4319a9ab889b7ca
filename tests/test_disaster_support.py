"""避難行動要支援者名簿, 被災者台帳 and 罹災証明書 (#12 items 5 and 6).

The 名簿: entries through the actions (audited), bad input refused with messages, the welfare department's CSV
refused whole with line numbers; the provided list (PDF, CSV) carries only consenting persons in normal times and
everyone once a disaster is declared; DV-protected persons' addresses only for staff with the right, and never on
the provided list (screen, PDF, CSV). The 被災者台帳: statutory items, the damage-grade rule at its boundaries,
append-only assessments and relief. The 罹災証明書: issued through the certificate engine (交付簿, 照合コード, fee 0),
refused without an assessment, its text read back with pdftotext, verified on the public page."""
import csv
import datetime as dt
import io
import json
import shutil
import subprocess
from decimal import Decimal

import pytest
from conftest import audit_events, client_for, person_values
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from jichitai.certificates import signing
from jichitai.certificates.models import Issuance, IssuanceStatus, Kind
from jichitai.common.fonts import font_path
from jichitai.disaster import actions as da
from jichitai.disaster import support_actions as sa
from jichitai.disaster import support_queries as sq
from jichitai.disaster.models.support import (DamageAssessment, DamageGrade, ReliefMeasure, VulnerablePerson,
                                              grade_for_ratio)
from jichitai.privacy import policy
from jichitai.residents import actions as ra
from jichitai.residents.actions import RuleError
from jichitai.tenancy.scope import AppendOnlyError, tenant_scope

FONTS = pytest.mark.skipif(font_path("ipamjm.ttf") is None or font_path("ipaexm.ttf") is None
                           or shutil.which("pdftotext") is None,
                           reason="IPAmj明朝 / IPAex明朝 or pdftotext not installed (make fonts)")
WHEN = timezone.now() - dt.timedelta(hours=3)
DV_ADDRESS = "隈一丁目9番9号"
CARE = {"care_level": "care4", "consent": "agreed", "consent_date": dt.date(2026, 4, 1), "phone": "0973-22-0000",
        "plan_destination": "三本松小学校体育館", "plan_route": "長女が車で送る", "plan_notes": "車いす"}


def pdftotext(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def squash(s):
    return "".join(s.split())


@pytest.fixture
def town(town_a, staff):
    """A family (head agreed to sharing, wife did not), an elderly couple living alone, and a DV-protected woman;
    all three of the first group are on the 名簿."""
    head, wife, child = town_a.family()
    with tenant_scope(town_a.m):
        actor = town_a.actor()
        old = ra.register_move_in(actor, values=person_values(
            family_name="小野", family_name_kana="オノ", given_name="トメ", given_name_kana="トメ", sex="2",
            birth_date=dt.date(1935, 2, 2), address="大字小野1234番地"), change_date=dt.date(2020, 4, 1),
            notification_date=dt.date(2020, 4, 1))
        hidden = ra.register_move_in(actor, values=person_values(
            family_name="後藤", family_name_kana="ゴトウ", given_name="静香", given_name_kana="シズカ", sex="2",
            birth_date=dt.date(1990, 5, 5), address=DV_ADDRESS, dv_protected=True),
            change_date=dt.date(2022, 4, 1), notification_date=dt.date(2022, 4, 1))
        u = staff["disaster_a"]
        e_head = sa.save_vulnerable_person(u, head.pk, CARE)
        e_wife = sa.save_vulnerable_person(u, wife.pk, {"pregnant": True, "consent": "refused",
                                                        "consent_date": dt.date(2026, 4, 2)})
        e_old = sa.save_vulnerable_person(u, old.pk, {"physical_disability_grade": "1", "disability_type": "visual",
                                                      "consent": "agreed", "consent_date": dt.date(2026, 4, 3)})
        e_hidden = sa.save_vulnerable_person(staff["admin_a"], hidden.pk, {  # DV: only staff with the right
            "mental_disability_grade": 2, "consent": "agreed", "consent_date": dt.date(2026, 4, 4),
            "plan_destination": "隈小学校体育館", "plan_route": "姉が迎えに行く", "plan_notes": "隈の姉宅に身を寄せる"})
        sa.add_supporter(staff["admin_a"], e_hidden.pk, {"kind": "neighbour", "name": "後藤 姉", "contact": "090-9"})
        sa.add_supporter(u, e_head.pk, {"kind": "welfare_commissioner", "name": "民生 一子", "contact": "090-1111-2222",
                                        "implements_plan": True})
    return {"m": town_a.m, "head": head, "wife": wife, "child": child, "old": old, "hidden": hidden,
            "entries": (e_head, e_wife, e_old, e_hidden)}


def provided(user):
    return sq.roster(policy.for_export(user, include_protected_addresses=False, purpose="vulnerable-persons"),
                     purpose=sq.PURPOSE_PROVISION)


# ---------------------------------------------------------------- the 名簿

def test_entries_are_audited_and_the_register_supplies_the_statutory_items(town, staff):
    m = town["m"]
    with tenant_scope(m):
        rows = sq.roster(policy.for_staff(staff["admin_a"]))
        head = next(r for r in rows if r.person_id == town["head"].pk)
        assert (head.name, head.sex, head.birth_date) == ("山田　太郎", "男", dt.date(1975, 4, 1))
        assert head.address == "三本松二丁目3番5号" and head.district == "三本松二丁目"
        assert head.reason_text == "要介護4" and head.consent == "同意" and head.consent_date == dt.date(2026, 4, 1)
        assert [s.name for s in head.supporters] == ["民生 一子"] and head.plan_route == "長女が車で送る"
        old = next(r for r in rows if r.person_id == town["old"].pk)
        assert old.district == "大字小野"
        assert old.reason_text == "身体障害者手帳1級・視覚障害、高齢者のみ世帯"  # computed from the register
        assert sq.vulnerable_person_ids() == {town[k].pk for k in ("head", "wife", "old", "hidden")}
    kinds = [e.action for e in audit_events(m, action__startswith="disaster.")]
    assert kinds.count("disaster.vulnerable_create") == 4 and "disaster.supporter_add" in kinds
    with tenant_scope(m):
        e = sa.save_vulnerable_person(staff["disaster_a"], town["head"].pk, {**CARE, "care_level": "care5"},
                                      expected_version=1)
        assert e.version == 2
        with pytest.raises(ValidationError, match="他の職員"):
            sa.save_vulnerable_person(staff["disaster_a"], town["head"].pk, CARE, expected_version=1)
    [ev] = audit_events(m, action="disaster.vulnerable_update")
    assert json.loads(ev.detail)["changed"] == ["care_level"]


def test_bad_entries_are_refused_with_messages_and_nothing_is_stored(town, staff):
    with tenant_scope(town["m"]):
        child = town["child"]
        with pytest.raises(ValidationError) as e:
            sa.save_vulnerable_person(staff["disaster_a"], child.pk, {
                "care_level": "care9", "physical_disability_grade": "7", "intellectual_disability": "C",
                "consent": "agreed", "phone": "abc", "plan_date": dt.date.today() + dt.timedelta(days=3)})
        d = e.value.message_dict
        assert {"care_level", "physical_disability_grade", "intellectual_disability", "phone", "plan_date",
                "consent_date"} <= set(d)
        assert "1〜6級" in d["physical_disability_grade"][0] and "日付" in d["consent_date"][0]
        with pytest.raises(ValidationError, match="事由"):
            sa.save_vulnerable_person(staff["disaster_a"], child.pk, {"consent": "unknown"})
        with pytest.raises(ValidationError, match="障害の種別"):
            sa.save_vulnerable_person(staff["disaster_a"], child.pk, {"physical_disability_grade": 2})
        assert not VulnerablePerson.objects.filter(person=child).exists()
        for who in ("clerk_a", "viewer_a"):  # no 名簿 rights
            with pytest.raises(PermissionDenied):
                sa.save_vulnerable_person(staff[who], child.pk, {"infant": True})
    with tenant_scope(town["m"]):
        assert len(audit_events(town["m"], action="disaster.vulnerable_create")) == 4


def test_consent_rules_the_provided_list_until_a_disaster_is_declared(town, staff):
    m, u = town["m"], staff["disaster_a"]
    with tenant_scope(m):
        before = {r.person_id for r in provided(u)}
        assert before == {town["head"].pk, town["old"].pk}  # agreed; the wife refused; the DV person is left out
        assert not sq.provision_basis()["declared"]
        act = da.declare_disaster(u, name="令和8年7月豪雨", kind="flood", occurred_at=WHEN)
        during = {r.person_id for r in provided(u)}
        assert during == {town["head"].pk, town["old"].pk, town["wife"].pk}  # without consent (第49条の11第3項)
        assert "第49条の11第3項" in sq.provision_basis()["text"]
        da.end_disaster(u, act.pk)
        assert {r.person_id for r in provided(u)} == before


def test_a_dv_protected_persons_address_only_for_staff_with_the_right_and_never_on_the_provided_list(town, staff):
    with tenant_scope(town["m"]):
        mine = {r.person_id: r for r in sq.roster(policy.for_staff(staff["admin_a"]))}
        theirs = {r.person_id: r for r in sq.roster(policy.for_staff(staff["disaster_a"]))}
        pid = town["hidden"].pk
        assert mine[pid].address == DV_ADDRESS and mine[pid].district == "隈一丁目"
        assert theirs[pid].address == policy.WITHHELD and theirs[pid].district == sq.PROTECTED_DISTRICT
        assert DV_ADDRESS not in repr(theirs[pid])
        assert theirs[pid].plan_destination == theirs[pid].plan_route == theirs[pid].plan_notes == policy.WITHHELD
        assert theirs[pid].supporters == [] and [s.name for s in mine[pid].supporters] == ["後藤 姉"]
        assert mine[pid].plan_destination == "隈小学校体育館"
        for write in (lambda: sa.save_vulnerable_person(staff["disaster_a"], pid, {"infant": True}),
                      lambda: sa.add_supporter(staff["disaster_a"], town["entries"][3].pk,
                                               {"kind": "other", "name": "x"})):
            with pytest.raises(ValidationError, match="支援措置対象者の住所を閲覧できる職員"):
                write()
        da.declare_disaster(staff["disaster_a"], name="地震", kind="earthquake", occurred_at=WHEN)
        assert pid not in {r.person_id for r in provided(staff["admin_a"])}  # not even for the DV-right admin
        with pytest.raises(ValueError):  # the provided list is never made with protected addresses
            sq.roster(policy.for_staff(staff["admin_a"]), purpose=sq.PURPOSE_PROVISION)


def test_household_members_of_a_protected_person_follow_the_municipalitys_setting(town, staff, town_a):
    from jichitai.privacy import actions as privacy_actions

    with tenant_scope(town["m"]):
        sister = ra.register_move_in(town_a.actor(), household=town["hidden"].household, values=person_values(
            family_name="後藤", given_name="陽", given_name_kana="ヒナタ", family_name_kana="ゴトウ", sex="2",
            relationship="妹", address=DV_ADDRESS), change_date=dt.date(2023, 4, 1),
            notification_date=dt.date(2023, 4, 1))
        sa.save_vulnerable_person(staff["disaster_a"], sister.pk, {"intractable_disease": True, "consent": "agreed",
                                                                   "consent_date": dt.date(2026, 4, 1)})
        assert sister.pk in {r.person_id for r in provided(staff["disaster_a"])}
        privacy_actions.set_household_rule(staff["admin_a"], True)
        town["m"]._privacy_household_rule = None
        assert sister.pk not in {r.person_id for r in provided(staff["disaster_a"])}
        row = next(r for r in sq.roster(policy.for_staff(staff["disaster_a"])) if r.person_id == sister.pk)
        assert row.address == policy.WITHHELD


@FONTS
def test_the_printed_and_csv_lists_per_district_follow_consent_and_dv_rules(town, staff):
    c = client_for(staff["disaster_a"])
    pdf = c.get("/disaster/vulnerable/roster.pdf?purpose=provision")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    t = pdftotext(pdf.content)
    s = squash(t)
    assert "避難行動要支援者名簿（避難支援等関係者への提供用）" in s and "第49条の11第2項" in s
    assert "町字：三本松二丁目（1人）" in s and "町字：大字小野（1人）" in s
    assert "山田太郎" in s and "小野トメ" in s and "民生一子" in s and "長女が車で送る" in s
    assert "花子" not in s  # refused consent
    assert "後藤" not in s and squash(DV_ADDRESS) not in s and "支援措置" in s  # the note says they are left out
    one = squash(pdftotext(c.get("/disaster/vulnerable/roster.pdf?purpose=provision&district=大字小野").content))
    assert "小野トメ" in one and "山田太郎" not in one
    body = c.get("/disaster/vulnerable/roster.csv?purpose=provision").content
    assert body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert {r["氏名"] for r in rows} == {"山田　太郎", "小野　トメ"}
    assert all(DV_ADDRESS not in v for r in rows for v in r.values())
    internal = list(csv.DictReader(io.StringIO(
        c.get("/disaster/vulnerable/roster.csv?purpose=internal").content.decode("utf-8-sig"))))
    dv = next(r for r in internal if r["氏名"] == "後藤　静香")
    assert dv["住所"] == policy.WITHHELD and dv["町字"] == sq.PROTECTED_DISTRICT
    assert DV_ADDRESS not in squash(pdftotext(c.get("/disaster/vulnerable/roster.pdf?purpose=internal").content))
    admin = client_for(staff["admin_a"])
    internal_admin = admin.get("/disaster/vulnerable/roster.csv?purpose=internal").content.decode("utf-8-sig")
    assert DV_ADDRESS in internal_admin
    assert DV_ADDRESS not in admin.get("/disaster/vulnerable/roster.csv?purpose=provision").content.decode("utf-8")
    outs = audit_events(town["m"], action="disaster.vulnerable_output")
    assert len(outs) == 7 and json.loads(outs[0].detail)["purpose"] == "provision"
    with tenant_scope(town["m"]):
        da.declare_disaster(staff["disaster_a"], name="地震", kind="earthquake", occurred_at=WHEN)
    s = squash(pdftotext(c.get("/disaster/vulnerable/roster.pdf?purpose=provision").content))
    assert "山田花子" in s and "第49条の11第3項" in s and "後藤" not in s


def test_the_screen_withholds_the_address_and_needs_the_right(town, staff):
    page = client_for(staff["disaster_a"]).get("/disaster/vulnerable/").content.decode()
    assert "後藤" in page and DV_ADDRESS not in page and policy.WITHHELD in page and "山田" in page
    assert DV_ADDRESS in client_for(staff["admin_a"]).get("/disaster/vulnerable/").content.decode()
    for who in ("clerk_a", "viewer_a"):
        assert client_for(staff[who]).get("/disaster/vulnerable/").status_code == 403
        assert client_for(staff[who]).get("/disaster/vulnerable/roster.csv").status_code == 403
    entry = client_for(staff["disaster_a"]).get(f"/disaster/vulnerable/{town['entries'][3].pk}/").content.decode()
    assert DV_ADDRESS not in entry and policy.WITHHELD in entry and "隈小学校" not in entry and "後藤 姉" not in entry
    assert "隈小学校" in client_for(staff["admin_a"]).get(f"/disaster/vulnerable/{town['entries'][3].pk}/").content.decode()
    assert len(audit_events(town["m"], action="disaster.vulnerable_view")) == 2
    assert len(audit_events(town["m"], action="disaster.vulnerable_entry_view")) == 2
    other = client_for(staff["admin_b"])  # another municipality's entry is not found
    assert other.get(f"/disaster/vulnerable/{town['entries'][0].pk}/").status_code == 404
    assert other.get(f"/disaster/vulnerable/new/{town['head'].pk}/").status_code == 404


def test_the_entry_form_saves_through_the_action(town, staff):
    c = client_for(staff["disaster_a"])
    child = town["child"]
    r = c.get(f"/disaster/vulnerable/find/?atena_no={child.atena_no}")
    assert r.status_code == 302 and r["Location"].endswith(f"/disaster/vulnerable/new/{child.pk}/")
    r = c.post(f"/disaster/vulnerable/new/{child.pk}/", {"consent": "agreed"})
    assert r.status_code == 400 and "事由" in r.content.decode() and "同意・不同意を記録する" in r.content.decode()
    r = c.post(f"/disaster/vulnerable/new/{child.pk}/", {"infant": "on", "consent": "unknown"})
    assert r.status_code == 302
    with tenant_scope(town["m"]):
        assert VulnerablePerson.objects.get(person=child).infant
    assert c.get("/disaster/vulnerable/find/?atena_no=999999").status_code == 400


WELFARE_CSV = ("宛名番号,要介護度,身体障害者手帳等級,障害の種別,療育手帳,精神障害者保健福祉手帳等級,難病,妊産婦,乳幼児,"
               "その他の事由,電話番号,同意,同意日\n")


def test_the_welfare_csv_is_imported_whole_or_refused_with_line_numbers(town, staff):
    m, u = town["m"], staff["disaster_a"]
    with tenant_scope(m):
        child, head = town["child"], town["head"]
        bad = (WELFARE_CSV + f"{child.atena_no},要介護9,,,,,,,,,,同意,2026-04-01\n"
               f"999999999,,,,,,1,,,,,,\n"
               f"{head.atena_no},要介護5,,,,,,,,,,同意,令和8年4月1日\n"
               f"{head.atena_no},要介護5,,,,,,,,,,同意,2026-04-01\n"
               f"{town['old'].atena_no},,,,,,はい?,,,,,,\n")
        with pytest.raises(sa.ImportRefused) as e:
            sa.import_vulnerable_csv(u, bad)
        lines = dict(e.value.lines)
        assert "要介護度" in lines[2] and "999999999" in lines[3] and "5行目と" not in lines.get(4, "")
        assert "4行目と重複" in lines[5] and "難病" in lines[6]
        assert VulnerablePerson.objects.get(person=head).care_level == "care4"  # nothing written
        with pytest.raises(sa.ImportRefused, match="不明な列"):
            sa.import_vulnerable_csv(u, "宛名番号,好きな色\n1,赤\n")
        with pytest.raises(sa.ImportRefused, match="データ行がありません"):
            sa.import_vulnerable_csv(u, WELFARE_CSV)
        good = ("\ufeff" + WELFARE_CSV + f"{child.atena_no},,,,,,,,1,,,未確認,\n"
                f"{head.atena_no},要介護5,,,,,,,,,0973-11-1111,同意,令和8年4月1日\n")
        res = sa.import_vulnerable_csv(u, good)
        assert (res.created, res.updated) == (1, 1)
        h = VulnerablePerson.objects.get(person=head)
        assert h.care_level == "care5" and h.phone == "0973-11-1111" and h.plan_route == "長女が車で送る"
        assert VulnerablePerson.objects.get(person=child).infant
    [ev] = audit_events(m, action="disaster.vulnerable_import")
    assert json.loads(ev.detail) == {"created": 1, "updated": 1}
    page = client_for(u).post("/disaster/vulnerable/import/",
                              {"file": io.BytesIO(bad.encode("utf-8"))}, format="multipart")
    assert page.status_code == 400 and "6行目" in page.content.decode()


# ---------------------------------------------------------------- 被災者台帳

@pytest.mark.parametrize("ratio,grade", [
    ("100", DamageGrade.TOTAL), ("50", DamageGrade.TOTAL), ("49.9", DamageGrade.LARGE_HALF),
    ("40", DamageGrade.LARGE_HALF), ("39.9", DamageGrade.MEDIUM_HALF), ("30", DamageGrade.MEDIUM_HALF),
    ("29.9", DamageGrade.HALF), ("20", DamageGrade.HALF), ("19.9", DamageGrade.SEMI_HALF),
    ("10", DamageGrade.SEMI_HALF), ("9.9", DamageGrade.PARTIAL), ("0.1", DamageGrade.PARTIAL)])
def test_the_damage_grade_rule_at_its_boundaries(ratio, grade):
    assert grade_for_ratio(Decimal(ratio)) == grade


@pytest.fixture
def ledger(town, staff):
    from conftest import certificate_signer

    certificate_signer(town["m"], staff["admin_a"])
    with tenant_scope(town["m"]):
        act = da.declare_disaster(staff["disaster_a"], name="令和8年7月豪雨", kind="flood", occurred_at=WHEN)
        led = sa.save_ledger(staff["disaster_a"], act.disaster_id, town["head"].household_id,
                             {"whereabouts": "三本松小学校体育館", "phone": "090-0000-1111"})
    return led


def test_the_ledger_carries_the_statutory_items(town, staff, ledger):
    u = staff["disaster_a"]
    today = timezone.localdate()
    with tenant_scope(town["m"]):
        with pytest.raises(ValidationError) as e:
            sa.record_damage_assessment(u, ledger.pk, {"survey_kind": "x", "surveyed_on": "2月30日", "surveyor": "",
                                                       "damage_ratio": "0"})
        assert set(e.value.message_dict) == {"survey_kind", "surveyed_on", "surveyor", "damage_ratio"}
        for bad in ("100.1", "-5", "abc", "12.34"):
            with pytest.raises(ValidationError, match="損害割合"):
                sa.record_damage_assessment(u, ledger.pk, {"survey_kind": "first", "surveyed_on": today,
                                                           "surveyor": "調査班A", "damage_ratio": bad})
        first = sa.record_damage_assessment(u, ledger.pk, {"survey_kind": "first", "surveyed_on": today,
                                                           "surveyor": "調査班A", "damage_ratio": "35"})
        assert first.grade == DamageGrade.MEDIUM_HALF and first.building_address == "三本松二丁目3番5号"
        second = sa.record_damage_assessment(u, ledger.pk, {"survey_kind": "second", "surveyed_on": today,
                                                            "surveyor": "調査班B", "damage_ratio": "４２．５%"})
        assert second.grade == DamageGrade.LARGE_HALF
        sa.record_relief(u, ledger.pk, {"kind": "shelter", "given_on": today})
        sa.record_relief(u, ledger.pk, {"kind": "reconstruction_grant", "given_on": today, "amount": "1,000,000"})
        with pytest.raises(ValidationError) as e:
            sa.record_relief(u, ledger.pk, {"kind": "cash", "given_on": "", "amount": "-1"})
        assert set(e.value.message_dict) == {"kind", "given_on", "amount"}
        with pytest.raises(ValidationError, match="同意を得ていない"):
            sa.record_ledger_provision(u, ledger.pk, recipient="社会福祉協議会", purpose="生活再建支援")
        with pytest.raises(ValidationError, match="提供先と同意の日"):
            sa.save_ledger(u, ledger.disaster_id, ledger.household_id, {"consent_to_provide": True})
        sa.save_ledger(u, ledger.disaster_id, ledger.household_id, {
            "consent_to_provide": True, "consent_recipients": "社会福祉協議会", "consent_date": today,
            "whereabouts": "三本松小学校体育館", "phone": "090-0000-1111", "other_damage": "家財の浸水"})
        sa.record_ledger_provision(u, ledger.pk, recipient="社会福祉協議会", purpose="生活再建支援")
        v = sq.ledger_view(sq.ledger(ledger.pk), policy.for_staff(u))
        assert [m["name"] for m in v.members] == ["山田　太郎", "山田　花子", "山田　一郎"]  # 世帯の構成
        assert v.members[0]["vulnerable"] == "要介護4" and v.members[1]["vulnerable"] == "妊産婦"  # 要配慮者
        blind = sq.ledger_view(sq.ledger(ledger.pk), policy.for_staff(u), show_vulnerable=False)
        assert {m["vulnerable"] for m in blind.members} == {sq.NO_RIGHT}  # without VIEW_VULNERABLE_PERSONS
        assert v.address == "三本松二丁目3番5号" and v.whereabouts == "三本松小学校体育館"
        assert v.latest.pk == second.pk and len(v.assessments) == 2
        assert [r.amount for r in v.relief] == [None, 1_000_000] and len(v.provisions) == 1
        with pytest.raises(AppendOnlyError):
            DamageAssessment.objects.filter(pk=first.pk).update(damage_ratio=10)
        with pytest.raises(AppendOnlyError):
            ReliefMeasure.objects.all().delete()
    acts = [e.action for e in audit_events(town["m"], action__startswith="disaster.")]
    assert acts.count("disaster.damage_assess") == 2 and acts.count("disaster.relief_record") == 2
    assert "disaster.ledger_provide" in acts and "disaster.ledger_update" in acts


def test_assessments_and_relief_are_append_only_at_the_database(town, staff, ledger):
    """Raw SQL past the ORM: the database's triggers refuse it (both engines)."""
    with tenant_scope(town["m"]):
        a = sa.record_damage_assessment(staff["disaster_a"], ledger.pk, {
            "survey_kind": "first", "surveyed_on": timezone.localdate(), "surveyor": "調査班A", "damage_ratio": "55"})
        r = sa.record_relief(staff["disaster_a"], ledger.pk, {"kind": "supplies", "given_on": timezone.localdate()})
        for sql, pk in ((f"UPDATE {DamageAssessment._meta.db_table} SET grade = 'partial' WHERE id = %s", a.pk),
                        (f"DELETE FROM {ReliefMeasure._meta.db_table} WHERE id = %s", r.pk)):
            with pytest.raises(DatabaseError), transaction.atomic():
                with connection.cursor() as c:
                    c.execute(sql, [pk])
        assert DamageAssessment.objects.get(pk=a.pk).grade == DamageGrade.TOTAL
        assert ReliefMeasure.objects.filter(pk=r.pk).exists()


def test_a_ledger_only_for_a_disaster_of_the_municipality(town, staff, munis):
    a, b = munis
    with tenant_scope(b):
        act_b = da.declare_disaster(staff["admin_b"], name="綾町の災害", kind="flood", occurred_at=WHEN)
    with tenant_scope(a):
        with pytest.raises(ValidationError, match="宣言された災害ではありません"):
            sa.save_ledger(staff["disaster_a"], act_b.disaster_id, town["head"].household_id, {})


def test_the_ledger_withholds_a_protected_households_address(town, staff, ledger):
    with tenant_scope(town["m"]):
        led = sa.save_ledger(staff["disaster_a"], ledger.disaster_id, town["hidden"].household_id,
                             {"whereabouts": "親族宅（中津市）"})
        v = sq.ledger_view(led, policy.for_staff(staff["disaster_a"]))
        assert v.address == policy.WITHHELD and v.whereabouts == policy.WITHHELD
        mine = sq.ledger_view(led, policy.for_staff(staff["admin_a"]))
        assert mine.address == DV_ADDRESS and mine.whereabouts == "親族宅（中津市）"
    page = client_for(staff["disaster_a"]).get(f"/disaster/ledger/{led.pk}/").content.decode()
    assert DV_ADDRESS not in page and "中津市" not in page and policy.WITHHELD in page
    r = client_for(staff["disaster_a"]).post(f"/disaster/ledger/{led.pk}/save/", {"phone": "090-9", "version": 1})
    assert r.status_code == 302  # the form has no 居所 field for him, and saving keeps the 居所
    with tenant_scope(town["m"]):
        assert sq.ledger(led.pk).whereabouts == "親族宅（中津市）"


# ---------------------------------------------------------------- 罹災証明書

def test_no_certificate_without_an_assessment(town, staff, ledger):
    with tenant_scope(town["m"]):
        with pytest.raises(ValidationError, match="被害認定.*ないため"):
            sa.issue_victim_certificate(staff["clerk_a"], ledger.pk, requester_kind="self")
        assert not Issuance.objects.exists()
    r = client_for(staff["clerk_a"]).post(f"/disaster/ledger/{ledger.pk}/certificate/",
                                          {"requester_kind": "self", "copies": 1, "step": "confirm"})
    assert r.status_code == 403  # the clerk has no disaster rights: the ledger page is not his
    r = client_for(staff["admin_a"]).post(f"/disaster/ledger/{ledger.pk}/certificate/",
                                          {"requester_kind": "self", "copies": 1, "step": "confirm"})
    assert r.status_code == 400 and "罹災証明書を発行できません" in r.content.decode()


@FONTS
def test_the_certificate_is_issued_logged_printed_and_verified(town, staff, ledger, client):
    u = staff["disaster_a"]
    with tenant_scope(town["m"]):
        sa.record_damage_assessment(u, ledger.pk, {"survey_kind": "first", "surveyed_on": timezone.localdate(),
                                                   "surveyor": "調査班A", "damage_ratio": "45.0"})
        with pytest.raises(RuleError, match="権限がありません"):  # disaster staff do not issue certificates
            sa.issue_victim_certificate(u, ledger.pk, requester_kind="self")
        with pytest.raises(RuleError, match="交付します"):
            sa.issue_victim_certificate(staff["clerk_a"], ledger.pk, requester_kind="third_party")
        out = sa.issue_victim_certificate(staff["clerk_a"], ledger.pk, requester_kind="self")
        household_no = town["head"].household.household_no
    iss = out.issuance
    assert iss.kind == Kind.DISASTER_VICTIM and iss.fee == 0 and iss.status == IssuanceStatus.ISSUED
    assert iss.options["grade"] == DamageGrade.LARGE_HALF and iss.household_no == household_no
    s = squash(pdftotext(out.pdf))
    assert "罹災証明書" in s and "山田太郎" in s and "山田花子" in s
    assert "大分県日田市三本松二丁目3番5号" in s and "令和8年7月豪雨" in s
    assert "■大規模半壊" in s and "□全壊" in s and "□準半壊に至らない（一部損壊）" in s
    assert "上記のとおり、相違ないことを証明します。" in s and f"発行番号{iss.issue_no}" in s
    [ev] = audit_events(town["m"], action="certificate.issue")
    assert json.loads(ev.detail)["kind"] == "disaster_victim"
    with tenant_scope(town["m"]):
        assert [i.pk for i in sq.ledger_view(sq.ledger(ledger.pk), policy.for_staff(u)).issuances] == [iss.pk]
    code = signing.make_code(iss)
    page = client.get(f"/verify/{code}")
    assert page.status_code == 200 and "罹災証明書" in page.content.decode() and "山田" not in page.content.decode()
    body = client.get(f"/verify/{code}?format=json").json()
    assert body["result"] == "valid" and body["kind"] == "disaster_victim"
    # the 交付簿's reprint prints the same facts under a new number
    from jichitai.certificates import actions as ca
    with tenant_scope(town["m"]):
        again = ca.reprint(staff["admin_a"], Issuance.objects.get(pk=iss.pk), reason="印刷不良")
        assert again.issuance.issue_no != iss.issue_no and "■大規模半壊" in squash(pdftotext(again.pdf))
        assert Issuance.objects.get(pk=iss.pk).status == IssuanceStatus.VOIDED
    assert client.get(f"/verify/{code}?format=json").json()["result"] == "invalid"


@FONTS
def test_the_certificate_through_the_screens_with_a_confirmation_step(town, staff, ledger):
    admin = client_for(staff["admin_a"])
    r = admin.post(f"/disaster/ledger/{ledger.pk}/assessments/", {
        "survey_kind": "first", "surveyed_on": timezone.localdate().isoformat(), "surveyor": "調査班A",
        "damage_ratio": "60"})
    assert r.status_code == 302
    confirm = admin.post(f"/disaster/ledger/{ledger.pk}/certificate/",
                         {"requester_kind": "self", "copies": 1, "step": "confirm"})
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "全壊" in page and 'value="edit" autofocus' in page
    assert "<dt>手数料</dt><dd>0円</dd>" in page
    back = admin.post(f"/disaster/ledger/{ledger.pk}/certificate/",
                      {"requester_kind": "agent", "requester_name": "代理 人", "copies": 2, "step": "edit"})
    assert back.status_code == 200 and 'value="代理 人"' in back.content.decode()  # the input kept
    with tenant_scope(town["m"]):
        assert not Issuance.objects.exists()
    token = page.split('name="token" value="')[1].split('"')[0]
    pdf = admin.post(f"/disaster/ledger/{ledger.pk}/certificate/",
                     {"requester_kind": "self", "copies": 1, "step": "commit", "token": token})
    assert pdf["Content-Type"] == "application/pdf" and "■全壊" in squash(pdftotext(pdf.content))
    twice = admin.post(f"/disaster/ledger/{ledger.pk}/certificate/",
                       {"requester_kind": "self", "copies": 1, "step": "commit", "token": token})
    assert twice.status_code == 302
    with tenant_scope(town["m"]):
        assert Issuance.objects.count() == 1
    assert "罹災証明書" not in client_for(staff["clerk_a"]).get(
        f"/residents/{town['head'].pk}/certificate/").content.decode()  # not offered by the resident-copy form


def test_a_protected_households_certificate_needs_the_dv_right(town, staff, ledger):
    with tenant_scope(town["m"]):
        led = sa.save_ledger(staff["disaster_a"], ledger.disaster_id, town["hidden"].household_id, {})
        sa.record_damage_assessment(staff["disaster_a"], led.pk, {
            "survey_kind": "first", "surveyed_on": timezone.localdate(), "surveyor": "調査班A", "damage_ratio": "25"})
        with pytest.raises(RuleError, match="支援措置対象者の住所を閲覧できる職員"):
            sa.issue_victim_certificate(staff["clerk_a"], led.pk, requester_kind="self")
        assert not Issuance.objects.exists()
        with pytest.raises(RuleError, match="本人または同一世帯の方の請求でのみ"):  # the dwelling's address is printed
            sa.issue_victim_certificate(staff["admin_a"], led.pk, requester_kind="agent", requester_name="代理 人")
        assert not Issuance.objects.exists()
        if font_path("ipamjm.ttf") is not None:
            out = sa.issue_victim_certificate(staff["admin_a"], led.pk, requester_kind="self")
            assert out.issuance.options["grade"] == DamageGrade.HALF


def test_no_disaster_certificate_without_the_signer(town, staff, ledger):
    from jichitai.certificates.actions import SignerMissing
    from jichitai.platform import engine

    engine.clear_value(staff["admin_a"], "certificates.mayor_name", tier=engine.Tier.MUNICIPALITY,
                       municipality=town["m"])
    with tenant_scope(town["m"]):
        sa.record_damage_assessment(staff["disaster_a"], ledger.pk, {
            "survey_kind": "first", "surveyed_on": timezone.localdate(), "surveyor": "調査班A", "damage_ratio": "45"})
        with pytest.raises(SignerMissing, match="市区町村長の氏名"):
            sa.issue_victim_certificate(staff["clerk_a"], ledger.pk, requester_kind="self")
        assert not Issuance.objects.exists()


def test_the_demo_seed_is_idempotent_and_finds_a_declared_disaster(town_a, staff):
    from jichitai.demo.support_seed import seed_support
    from jichitai.disaster import queries as dq

    town_a.family(family_name="古川", kana="フルカワ", address="豆田町5番1号", birth_date=dt.date(1940, 1, 1))
    with tenant_scope(town_a.m):
        act = da.declare_disaster(staff["admin_a"], name="既に宣言済みの災害", kind="flood", occurred_at=WHEN)
        first = seed_support(town_a.m, staff["admin_a"], n_entries=5)
        assert first["vulnerable"] == 1 and first["ledgers"] == 1 and first["assessments"] == 1
        assert dq.current_activation() == act  # used, not declared again
        again = seed_support(town_a.m, staff["admin_a"], n_entries=5)
        assert again == {"vulnerable": 0, "ledgers": 0, "assessments": 0}
        assert sq.ledgers(act.disaster_id).count() == 1


def test_delisting_takes_a_person_off_every_list_and_a_bad_upload_is_refused(town, staff):
    u = staff["disaster_a"]
    with tenant_scope(town["m"]):
        e_old = town["entries"][2]
        with pytest.raises(ValidationError, match="理由"):
            sa.delist_vulnerable_person(u, e_old.pk, reason=" ")
        sa.delist_vulnerable_person(u, e_old.pk, reason="施設に入所")
        assert town["old"].pk not in sq.vulnerable_person_ids()
        assert town["old"].pk not in {r.person_id for r in provided(u)}
        with pytest.raises(ValidationError, match="すでに終了"):
            sa.delist_vulnerable_person(u, e_old.pk, reason="施設に入所")
        sa.save_vulnerable_person(u, town["old"].pk, {"care_level": "care2", "consent": "unknown"})  # listed again
        assert town["old"].pk in sq.vulnerable_person_ids()
    r = client_for(u).post("/disaster/vulnerable/import/", {"file": io.BytesIO("宛名番号,要介護度\n１,要介護\n".encode("cp932"))})
    assert r.status_code == 400 and "UTF-8 として読めません" in r.content.decode()
