"""Lists and daily totals (issue 10, item 7): the 交付簿 by period, clerk, kind and name with its 日計, the 日計表,
異動者一覧 and 世帯一覧 as screen, CSV (UTF-8 with BOM, CP932 with visible replacements) and PDF — every one reading
addresses through the read policy exactly as the screen does — and the audit screen (an event about several
persons found by each, 対象 as 宛名番号 and name, every event code labelled and offered in the filter)."""
import csv
import datetime as dt
import io
import pathlib
import re

import pytest
from conftest import audit_events, client_for, person_values
from django.utils import timezone

from jichitai.common.fonts import font_path
from jichitai.residents import actions
from jichitai.tenancy.scope import tenant_scope

D = dt.date
needs_fonts = pytest.mark.skipif(font_path("ipamjm.ttf") is None or font_path("ipaexm.ttf") is None,
                                 reason="IPAmj明朝 / IPAex明朝 not installed (make fonts)")

def today():
    return timezone.localdate().isoformat()


def _csv(resp):
    raw = resp.content
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


# ---------------------------------------------------------------- 交付簿 and 日計

@pytest.fixture
def issued(env, staff, signed_certificates):
    """Four certificates today: clerk issues two (one voided later), the admin one, and a refused request."""
    from jichitai.certificates.actions import CertificateRequest, issue_certificate, void_issuance

    def req(p, kind="resident_copy", copies=1, requester="self", name=""):
        return CertificateRequest(kind=kind, person_ids=[p.pk], requester_kind=requester, copies=copies,
                                  requester_name=name)

    a = issue_certificate(env.clerk, req(env.head, copies=2), terminal="t").issuance
    b = issue_certificate(env.clerk, req(env.wife, kind="entry_certificate"), terminal="t").issuance
    c = issue_certificate(staff["admin_a"], req(env.child), terminal="t").issuance
    void_issuance(staff["admin_a"], b, reason="記載誤り", terminal="t")
    return a, b, c


@needs_fonts
def test_issuance_log_filters_and_counts_the_day(issued, env, staff):
    a, b, c = issued
    fee = a.fee // a.copies
    cl = client_for(staff["clerk_a"])
    r = cl.get("/certificates/", {"date_from": today(), "date_to": today()})
    t = r.context["t"]
    assert r.status_code == 200 and len(t.rows) == 3
    summary = dict(t.summary)
    assert summary["交付"] == "2件（3通）" and summary["手数料"] == f"{a.fee + c.fee:,}円" and summary["取消"] == "1件"
    assert fee > 0
    by_clerk = cl.get("/lists/issuances/", {"date_from": today(), "clerk": "clerk-a"}).context["t"]
    assert {row[0] for row in by_clerk.rows} == {a.issue_no, b.issue_no}
    by_kind = cl.get("/lists/issuances/", {"date_from": today(), "kind": "entry_certificate"}).context["t"]
    assert [row[0] for row in by_kind.rows] == [b.issue_no]
    by_name = cl.get("/lists/issuances/", {"date_from": today(), "name": "山田　一"}).context["t"]
    assert [row[0] for row in by_name.rows] == [c.issue_no] and "山田　一郎" in by_name.rows[0][3]
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    assert cl.get("/lists/issuances/", {"date_from": yesterday, "date_to": yesterday}).context["t"].rows == []
    # bad input: a clear message, no list
    r = cl.get("/lists/issuances/", {"date_from": today(), "date_to": "2020-01-01"})
    assert r.status_code == 400 and "終了日が開始日より前" in r.content.decode() and r.context["t"] is None
    r = cl.get("/lists/issuances/", {"date_from": "令和99年13月1日"})
    assert r.status_code == 400
    r = cl.get("/lists/issuances/", {"date_from": "2020-01-01", "date_to": "2024-01-01"})
    assert r.status_code == 400 and "366日以内" in r.content.decode()
    assert client_for(staff["viewer_a"]).get("/lists/issuances/").status_code == 403


@needs_fonts
def test_daily_table_screen_csv_and_pdf_agree(issued, env, staff):
    a, b, c = issued
    cl = client_for(staff["clerk_a"])
    t = cl.get("/lists/daily/", {"date_from": today()}).context["t"]
    total = dict(t.summary)
    assert total == {"交付件数": "2件", "通数": "3通", "手数料合計": f"{a.fee + c.fee:,}円"}
    day_line = [r for r in t.rows if r[1].startswith("日計")]
    assert day_line == [[today(), "日計（取消 1件・交付拒否 0件）", "2", "3", f"{a.fee + c.fee:,}円"]]
    rows = _csv(cl.get("/lists/daily/", {"date_from": today(), "format": "csv"}))
    assert rows[0] == ["日付", "証明書の種類", "交付件数", "通数", "手数料"] and rows[1:] == t.rows
    r = cl.get("/lists/daily/", {"date_from": today(), "format": "pdf"})
    assert r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    text = _pdf_text(r.content)
    assert "日計表" in text and f"{a.fee + c.fee:,}円" in text and "住民票の写し" in text
    assert [e.detail for e in audit_events(env.m, action="list.export")][-1].count('"format":"pdf"') == 1


# ---------------------------------------------------------------- 異動者一覧 and 世帯一覧, through the read policy

@pytest.fixture
def protected(env):
    """The wife moves (a 転居) and is then put under DV protection: every address of hers is withheld from staff
    without the right, the one recorded before protection included."""
    env.move(env.wife, address="豆田町7番2号", change_date=D(2024, 4, 1), notification_date=D(2024, 4, 2))()
    wife = env.fresh(env.wife)
    actions.correct_person(env.actor(), wife, expected_version=wife.version, changes={"dv_protected": True},
                           change_date=D(2024, 4, 3), note="支援措置の申出")
    return env.fresh(env.wife)


def _movers(c, **kw):
    return c.get("/lists/movers/", {"date_from": "2024-04-01", "date_to": "2024-04-30", **kw})


def test_movers_list_withholds_protected_addresses_in_every_format(protected, env, staff):
    clerk, admin = client_for(staff["clerk_a"]), client_for(staff["admin_a"])  # admin has the DV right
    t = _movers(clerk).context["t"]
    wife_rows = [r for r in t.rows if r[3] == protected.atena_no]
    assert len(wife_rows) == 2 and all("豆田町" not in " ".join(r) for r in wife_rows)
    assert {r[7] for r in wife_rows} == {"（支援措置のため表示しません）"} and t.withheld == 2
    assert [r[2] for r in wife_rows] == ["転居", "職権修正"]
    body = _movers(clerk).content.decode()
    assert "豆田町7番2号" not in body and "支援措置のため住所を表示していない行が 2 件" in body
    csv_rows = _csv(_movers(clerk, format="csv"))
    assert csv_rows[1:] == t.rows and "豆田町" not in "".join(map(str, csv_rows))
    cp932 = _movers(clerk, format="csv-cp932").content.decode("cp932")
    assert "豆田町7番2号" not in cp932
    seen = _movers(admin).context["t"]
    assert {r[7] for r in seen.rows if r[3] == protected.atena_no} == {"豆田町7番2号"} and seen.withheld == 0
    # kind filter
    only = _movers(clerk, kinds=["ex_officio_correction"]).context["t"]
    assert [r[2] for r in only.rows] == ["職権修正"]
    r = _movers(clerk, kinds=["no_such_kind"])
    assert r.status_code == 400


@needs_fonts
def test_movers_pdf_withholds_too(protected, staff):
    text = _pdf_text(_movers(client_for(staff["clerk_a"]), format="pdf").content)
    assert "異動者一覧" in text and "豆田町7番2号" not in text and "支援措置のため表示しません" in text
    assert "豆田町7番2号" in _pdf_text(_movers(client_for(staff["admin_a"]), format="pdf").content)


def test_household_list_and_its_address_filter_follow_the_policy(protected, env, staff, town_a):
    other, _, _ = town_a.family(family_name="佐藤", kana="サトウ", address="豆田町7番9号")
    clerk, admin = client_for(staff["clerk_a"]), client_for(staff["admin_a"])
    t = clerk.get("/lists/households/").context["t"]
    by_no = {r[0]: r for r in t.rows}
    wife_hh = by_no[protected.household.household_no]
    assert wife_hh[3] == "（支援措置のため表示しません）" and wife_hh[1] == "山田　花子"
    assert by_no[other.household.household_no][3] == "豆田町7番9号"
    # an address search never finds the protected household for a reader without the right
    found = clerk.get("/lists/households/", {"address": "豆田町七番"}).context["t"]
    assert [r[0] for r in found.rows] == [other.household.household_no]
    found = admin.get("/lists/households/", {"address": "豆田町７番"}).context["t"]
    assert {r[0] for r in found.rows} == {other.household.household_no, protected.household.household_no}
    rows = _csv(clerk.get("/lists/households/", {"format": "csv"}))
    assert rows[0][:4] == ["世帯番号", "世帯主", "フリガナ", "住所"] and "豆田町7番2号" not in str(rows)


def test_cp932_csv_replaces_what_it_cannot_hold_visibly(env, staff):
    head = actions.register_move_in(env.actor(), values=person_values(
        family_name="葛\U000E0102城", given_name="\U00020BB7太", family_name_kana="カツラギ", given_name_kana="ヨシタ",
        hittosha="", address="隈3番"), change_date=D(2024, 4, 10), notification_date=D(2024, 4, 10))
    c = client_for(staff["clerk_a"])
    utf8 = _csv(_movers(c, format="csv"))
    assert any("葛\U000E0102城　\U00020BB7太" in r for r in utf8)
    raw = _movers(c, format="csv-cp932")
    assert raw["Content-Type"] == "text/csv; charset=shift_jis"
    rows = list(csv.reader(io.StringIO(raw.content.decode("cp932"))))
    assert rows[0][-1] == "CP932で置き換えた文字"
    mine = next(r for r in rows if r[3] == head.atena_no)
    assert mine[4] == "葛城　吉太"
    assert mine[-1] == "U+845B U+E0102→葛、U+20BB7→吉"


# ---------------------------------------------------------------- the audit screen

def test_an_event_about_several_persons_is_found_by_each(env, staff):
    env.move(env.head, address="豆田町5番1号")()  # the whole household: one event, three persons
    admin = client_for(staff["admin_a"])
    for p in (env.head, env.wife, env.child):
        r = admin.get("/audit/", {"object_id": p.atena_no, "action": "resident.change.move_within"})
        assert len(r.context["rows"]) == 1, p
        target = r.context["targets"][0]
        assert all(f"{q.atena_no} {q.full_name}" in target for q in (env.head, env.wife, env.child))
    # a person not involved finds nothing; an id that is a prefix of another is not a match
    r = admin.get("/audit/", {"object_id": "999999999999999", "action": "resident.change.move_within"})
    assert r.context["rows"] == []
    ids = audit_events(env.m, action="resident.change.move_within")[0].object_id.split(",")
    assert len(ids) == 3


def test_the_audit_target_is_named_only_for_readers_who_may_see_residents(env, staff):
    from jichitai.audit.queries import person_labels

    ids = [str(env.head.pk)]
    assert person_labels(staff["admin_a"], ids) == {str(env.head.pk): f"{env.head.atena_no} 山田　太郎"}
    assert person_labels(staff["operator"], ids) == {}


SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "jichitai"
FAMILIES = ("api|audit|auth|certificate|certificate_setting|chouaza|demo|gaiji|household|interchange|list|migration|"
            "municipality|platform|privacy|resident|staff|tenant")
LITERAL = re.compile(rf"[\"']((?:{FAMILIES})\.[a-z_]+(?:\.[a-z_]+)*)[\"']")
CALL = re.compile(r"\b\w*(?:record_event|audit_append|append|_event|_audit)\((?:[^()\"]|\([^()]*\))*?"
                  r"\"([a-z_]+(?:\.[a-z_]+)+)\"", re.S)
GAIJI_LOG = re.compile(r"\b_log\(\s*actor,\s*m,\s*\"([a-z_]+)\"")
NOT_EVENT_CODES = {"auth.group": "Django model label", "auth.permission": "Django model label",
                   "gaiji.gaijimapping": "model label", "resident.change": "the filter's group of every 異動",
                   "audit.jsonl": "a file name", **{k: "a model label" for k in (
                       "platform.advisory", "platform.incident", "platform.incidentreport", "platform.settingvalue")},
                   **{k: "a setting key (platform/declarations.py)" for k in (
                       "gaiji.two_person_review", "platform.individual_approver", "platform.prefecture_coordinator",
                       "platform.sla_availability_permille", "platform.sla_latency_ms",
                       "platform.standalone_base_yen", "platform.standalone_per_resident_yen",
                       "privacy.protect_household_members")}}


def event_codes() -> set:
    """Every audit event code the code can write, found in the sources: literal codes, codes passed to the audit
    helpers, the 外字 registry's `gaiji.<action>` and one `resident.change.<kind>` per 異動事由."""
    from jichitai.residents.models import ChangeKind

    codes = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(LITERAL.findall(text)) | set(CALL.findall(text))
        if path.match("gaiji/actions.py"):
            codes |= {f"gaiji.{a}" for a in GAIJI_LOG.findall(text)}
    codes |= {f"resident.change.{k.value}" for k in ChangeKind}
    return codes - set(NOT_EVENT_CODES)


def test_every_event_code_has_a_japanese_label_and_is_offered_in_the_filter(staff, munis):
    from jichitai.audit.views import AuditFilterForm, action_label, all_action_labels

    codes = event_codes()
    assert {"resident.view", "certificate.issue", "chouaza.import", "list.export", "gaiji.approved",
            "resident.change.move_within", "staff.created"} <= codes  # the scan finds codes of every kind
    missing = sorted(c for c in codes if c not in all_action_labels())
    assert not missing, f"event codes without a Japanese label (audit/views.py ACTION_LABELS): {missing}"
    assert all(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", action_label(c)) for c in codes)
    offered = {v for v, _ in AuditFilterForm().fields["action"].choices}
    assert codes <= offered


def test_filtering_by_any_offered_code_works(env, staff):
    admin = client_for(staff["admin_a"])
    recent = (timezone.localdate() - dt.timedelta(days=30)).isoformat()
    assert admin.get("/lists/movers/", {"date_from": recent}).status_code == 200
    r = admin.get("/audit/", {"action": "list.view"})
    assert r.status_code == 200 and {e.action for e, _ in r.context["rows"]} == {"list.view"}


def test_a_period_from_a_date_runs_to_today_and_defaults_to_today(env, staff):
    c = client_for(staff["clerk_a"])
    start = timezone.localdate() - dt.timedelta(days=300)
    t = c.get("/lists/movers/", {"date_from": start.strftime("%Y年%m月%d日").replace("年0", "年").replace("月0", "月")}
              ).context["t"]
    assert t.conditions.startswith(f"異動日 {start.isoformat()}〜{today()}")
    r = c.get("/lists/movers/", {"date_from": "令和6年4月1日"})  # to today: more than 366 days
    assert r.status_code == 400 and "366日以内" in r.content.decode()
    assert c.get("/lists/movers/").context["t"].conditions.startswith(f"異動日 {today()}〜{today()}")
    assert c.get("/lists/daily/", {"date_to": "2024-04-01"}).context["t"].conditions == "期間 2024-04-01〜2024-04-01"


def test_a_pdf_too_long_asks_to_narrow(env, town_a, staff, monkeypatch):
    from jichitai.lists import views

    town_a.family(family_name="佐藤", kana="サトウ", address="隈2番")
    monkeypatch.setattr(views, "PDF_MAX_ROWS", 1)
    r = client_for(staff["clerk_a"]).get("/lists/households/", {"format": "pdf"})
    assert r["Content-Type"].startswith("text/html") and "PDFは1行までです" in r.content.decode()
