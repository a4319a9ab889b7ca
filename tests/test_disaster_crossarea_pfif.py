"""広域避難 (#12 item 7) and PFIF 1.4 (item 8).

Grants: time-limited, revocable, audited on both chains; no grant → refused; minimal fields only; DV-protected
residents of the origin are never returned. PFIF: every one of Person Finder's test files imports with each record
either stored or reported (none dropped silently); DOCTYPE / entities are refused; only consented, unprotected
evacuees are exported; the incremental feed by min_entry_date."""
import datetime as dt
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from conftest import audit_events, client_for
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from jichitai.disaster import actions, crossarea, pfif, queries
from jichitai.disaster.models import LookupGrant, PfifRecord, SafetyNote
from jichitai.residents import actions as ractions
from jichitai.residents.models import Person
from jichitai.tenancy.scope import tenant_scope

PEERS = Path("/work/shared/peers/personfinder-pfif")
WHEN = timezone.now() - dt.timedelta(hours=3)
NS = "{http://zesty.ca/pfif/1.4}"


def _protect(town, p):
    with tenant_scope(town.m):
        p = Person.objects.get(pk=p.pk)
        ractions.correct_person(town.actor(), p, expected_version=p.version, changes={"dv_protected": True},
                                change_date=dt.date(2024, 1, 10), note="支援措置の申出")


@pytest.fixture
def origin(town_a, staff):
    """Town A (origin, 日田市) has a family, one of them protected, and a declared disaster."""
    fam = town_a.family()
    _protect(town_a, fam[1])
    with tenant_scope(town_a.m):
        actions.declare_disaster(staff["disaster_a"], name="豪雨", kind="flood", occurred_at=WHEN)
    return fam


ROWS = [{"name": "山田太郎", "kana": "ヤマダタロウ", "birth": "1975-04-01", "sex": "1", "address": "", "evacuee_id": 7},
        {"name": "山田花子", "kana": "ヤマダハナコ", "birth": "1977-08-15", "sex": "2", "address": "", "evacuee_id": 8}]


def test_no_grant_expired_or_revoked_grants_refuse_the_lookup(origin, munis, staff):
    a, b = munis
    with tenant_scope(b):
        with pytest.raises(crossarea.GrantRefused, match="許可がありません"):
            crossarea.lookup(staff["admin_b"], 12345, ROWS)
    with tenant_scope(a):
        g = actions.grant_lookup(staff["admin_a"], "45383", expires_at=timezone.now() + dt.timedelta(days=3),
                                 reason="豪雨による広域避難（宮崎県への避難者）")
    with tenant_scope(b):
        assert [x.pk for x in crossarea.grants_received()] == [g.pk]
        out = crossarea.lookup(staff["admin_b"], g.pk, ROWS)
    [taro, hanako] = out
    assert taro["decision"] == "auto" and taro["evacuee_id"] == 7
    [c] = taro["candidates"]
    assert set(c) == set(crossarea.MINIMAL_FIELDS) and c["name"] == "山田　太郎" and c["district"] == "三本松二丁目"
    assert "atena_no" not in c and "resident_code" not in c and "address" not in c
    assert hanako["decision"] == "none" and hanako["candidates"] == []  # protected in the origin: never returned
    for m in (a, b):
        [ev] = audit_events(m, action="disaster.crossarea_lookup")
        assert json.loads(ev.detail)["candidates_returned"] == 1 and ev.actor_username == "admin-b"
        assert len(audit_events(m, action="disaster.grant_create")) == 1
    # another host cannot use it
    with tenant_scope(a):
        with pytest.raises(crossarea.GrantRefused):
            crossarea.lookup(staff["admin_a"], g.pk, ROWS)
    # revoked
    with tenant_scope(a):
        actions.revoke_grant(staff["admin_a"], g.pk)
        with pytest.raises(ValidationError, match="すでに取り消"):
            actions.revoke_grant(staff["admin_a"], g.pk)
    with tenant_scope(b):
        with pytest.raises(crossarea.GrantRefused, match="取り消"):
            crossarea.lookup(staff["admin_b"], g.pk, ROWS)
    for m in (a, b):
        assert len(audit_events(m, action="disaster.grant_revoke")) == 1
    # expired
    with tenant_scope(a):
        g2 = actions.grant_lookup(staff["admin_a"], "45383", expires_at=timezone.now() + dt.timedelta(hours=1),
                                  reason="延長")
        LookupGrant.objects.filter(pk=g2.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with tenant_scope(b):
        with pytest.raises(crossarea.GrantRefused, match="有効期限"):
            crossarea.lookup(staff["admin_b"], g2.pk, ROWS)
        with pytest.raises(PermissionDenied):
            crossarea.lookup(staff["clerk_b"], g2.pk, ROWS)
    assert len(audit_events(b, action="disaster.crossarea_lookup")) == 1
    # every refusal is audited: the host's chain each time, the origin's when the grant is theirs
    assert [json.loads(e.detail)["reason"][:6] for e in audit_events(b, action="disaster.crossarea_refused")] == [
        "照会の許可が", "照会の許可は", "照会の許可の"]  # none, revoked, expired (the clerk: no permission, no lookup)
    # A's chain: A itself tried B's grant (as a host without one), then B's refused lookups of A's grants
    assert [json.loads(e.detail)["reason"][:6] for e in audit_events(a, action="disaster.crossarea_refused")] == [
        "照会の許可が", "照会の許可は", "照会の許可の"]


def test_bad_grants_are_refused_and_the_operator_grants_only_during_a_declared_disaster(origin, munis, staff):
    a, b = munis
    with tenant_scope(a):
        with pytest.raises(ValidationError) as e:
            actions.grant_lookup(staff["admin_a"], "44204", expires_at=timezone.now() - dt.timedelta(hours=1),
                                 reason="")
        assert set(e.value.message_dict) == {"host", "expires_at", "reason"}
        with pytest.raises(ValidationError, match="90日"):
            actions.grant_lookup(staff["admin_a"], "45383", expires_at=timezone.now() + dt.timedelta(days=400),
                                 reason="x")
        with pytest.raises(PermissionDenied):
            actions.grant_lookup(staff["clerk_a"], "45383", expires_at=timezone.now() + dt.timedelta(days=1),
                                 reason="x")
        assert not LookupGrant.objects.exists()
    later = timezone.now() + dt.timedelta(days=2)
    with pytest.raises(ValidationError, match="宣言中の災害がない"):
        actions.grant_lookup_by_operator(staff["operator"], "45383", "44204", expires_at=later, reason="x")
    g = actions.grant_lookup_by_operator(staff["operator"], "44204", "45383", expires_at=later, reason="運用者による")
    assert g.by_operator
    for m in (a, b):
        [ev] = audit_events(m, action="disaster.grant_create")
        assert json.loads(ev.detail)["by_operator"] is True
    actions.revoke_grant(staff["operator"], g.pk, origin_code="44204")
    with tenant_scope(b):
        with pytest.raises(crossarea.GrantRefused):
            crossarea.lookup(staff["admin_b"], g.pk, ROWS)


# ---------------------------------------------------------------- PFIF

def _count_records(data: bytes) -> int:
    root = ET.fromstring(data)
    return sum(1 for el in root.iter() if el.tag.endswith("}person") or el.tag.endswith("}note"))


@pytest.mark.parametrize("path", sorted(PEERS.glob("*.xml")), ids=lambda p: p.name)
def test_every_person_finder_test_file_imports_with_no_record_dropped(path, munis, staff):
    a, _ = munis
    data = path.read_bytes()
    with tenant_scope(a):
        rep = actions.import_pfif(staff["admin_a"], data, source_domain="test.google.com")
        stored = PfifRecord.objects.count() + SafetyNote.objects.count()
    assert stored == rep["persons"] + rep["notes"]
    assert rep["persons"] + rep["notes"] + len(rep["problems"]) == _count_records(data), rep["problems"]
    for p in rep["problems"]:
        assert p["reason"] and p["line"] > 0
    [ev] = audit_events(a, action="disaster.pfif_import")
    assert json.loads(ev.detail)["problems"] == len(rep["problems"])


def test_what_the_person_finder_files_hold_is_read_as_meant(munis, staff):
    a, _ = munis
    u = staff["admin_a"]
    with tenant_scope(a):
        rep = actions.import_pfif(u, (PEERS / "test.pfif-1.4.xml").read_bytes(), source_domain="test.google.com")
        r = PfifRecord.objects.get()
        assert r.record_id == "test.google.com/person.21009" and r.data["home_city"] == "_test_home_city"
        assert r.data["date_of_birth"] == "1970-01" and r.full_name.startswith("_test_full_name1")
        statuses = sorted(n.status for n in SafetyNote.objects.all())
        assert "believed_missing" in statuses
        # the note without author_name (mandatory in 1.4) is reported, not dropped
        assert any(p["record"] == "test.google.com/note.40121" and "author_name" in p["reason"]
                   for p in rep["problems"])
        # a bad domain is reported
        rep = actions.import_pfif(u, (PEERS / "test.pfif-1.2-badrecord.xml").read_bytes(),
                                  source_domain="test.google.com")
        assert any(p["record"] == "foo.google.com/person.666" and "ドメイン" in p["reason"] for p in rep["problems"])
        # a top-level note about an imported person attaches to it; 1.2's `found` becomes author_made_contact
        rep = actions.import_pfif(u, (PEERS / "test.pfif-1.2-believed-dead.xml").read_bytes(),
                                  source_domain="test.google.com")
        assert rep["notes"] == 1
        n = SafetyNote.objects.get(note_record_id="test.google.com/note.218")
        assert n.status == "believed_dead" and n.pfif_record == r and n.author_made_contact is False
        # importing the same file again stores nothing and says why
        again = actions.import_pfif(u, (PEERS / "test.pfif-1.2-believed-dead.xml").read_bytes(),
                                    source_domain="test.google.com")
        assert again["notes"] == 0 and "重複" in again["problems"][0]["reason"]
        again = actions.import_pfif(u, (PEERS / "test.pfif-1.4.xml").read_bytes(), source_domain="test.google.com")
        assert again["persons"] == 0 and again["notes"] == 0
        assert any(p["record"] == "test.google.com/person.21009" and "重複" in p["reason"]
                   for p in again["problems"])
        assert PfifRecord.objects.count() == 1


@pytest.mark.parametrize("doc,msg", [
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">'
     b'&a;</pfif:pfif>', "DOCTYPE"),
    (b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>', "DOCTYPE"),
    (b"<pfif:pfif xmlns:pfif='http://zesty.ca/pfif/1.4'><pfif:person>", "XML として読めません"),
    (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "PFIF 1.1"),
    (b"not xml at all", "XML として読めません"),
])
def test_unreadable_or_unsafe_documents_are_refused_whole(munis, staff, doc, msg):
    a, _ = munis
    with tenant_scope(a):
        with pytest.raises(ValidationError, match=msg):
            actions.import_pfif(staff["admin_a"], doc, source_domain="test.google.com")
        assert not PfifRecord.objects.exists()


def test_only_consented_unprotected_evacuees_are_exported_and_the_feed_is_incremental(origin, munis, staff):
    a, _ = munis
    u = staff["disaster_a"]
    with tenant_scope(a):
        s = actions.save_shelter(u, {"code": "S01", "name": "三本松小学校", "kind": "designated", "address": "x",
                                     "capacity_day": 10, "capacity_night": 10})
        actions.set_shelter_open(u, s.pk, True)
        base = {"place": "S01", "consent_public": "はい"}
        created, _ = actions.register_evacuees(u, [
            {**base, "full_name": "山田太郎", "kana": "ヤマダタロウ", "birth_text": "1975-04-01", "sex": "男"},
            {**base, "full_name": "山田花子", "kana": "ヤマダハナコ", "birth_text": "1977-08-15", "sex": "女"},  # DV
            {**base, "full_name": "山田花子", "birth_text": ""},  # may be her: a protected candidate
            {**base, "full_name": "旅行者", "consent_public": "いいえ"},  # no consent
            {**base, "full_name": "観光客", "kana": "カンコウキャク"},  # consented visitor
        ])
        actions.add_safety_note(u, evacuee_id=created[0].pk, status="believed_alive", text="避難所で無事")
        rows = queries.pfif_export_rows(a)
        assert [r["full_name"] for r in rows] == ["山田太郎", "観光客"]
        xml = pfif.render(a, rows)
        root = ET.fromstring(xml)
        names = [p.find(NS + "full_name").text for p in root.findall(NS + "person")]
        assert names == ["山田太郎", "観光客"] and "花子" not in xml.decode()
        taro = root.findall(NS + "person")[0]
        assert taro.find(NS + "person_record_id").text == f"44204.jichitai-cloud.example/evacuee.{created[0].pk}"
        assert taro.find(NS + "note/" + NS + "status").text == "believed_alive"
        assert taro.find(NS + "home_street") is None  # the street address never leaves
        # the export re-imports as PFIF (round trip through our own reader)
        persons, problems = pfif.parse_document(xml, source_domain="44204.jichitai-cloud.example")
        assert len(persons) == 2 and not problems
        # incremental: nothing new since now; a new note brings its person with only the new note
        mark = timezone.now()
        assert queries.pfif_export_rows(a, min_entry_date=mark) == []
        actions.add_safety_note(u, evacuee_id=created[4].pk, status="is_note_author", text="本人より")
        inc = queries.pfif_export_rows(a, min_entry_date=mark)
        assert [r["full_name"] for r in inc] == ["観光客"] and len(inc[0]["notes"]) == 1
        # consent withdrawn: gone from the next feed
        actions.set_consent(u, created[4].pk, family=True, acquaintance=False, public=False)
        assert [r["full_name"] for r in queries.pfif_export_rows(a)] == ["山田太郎"]


def test_pfif_and_grant_pages(origin, munis, staff):
    a, b = munis
    c = client_for(staff["admin_a"])
    r = c.get("/disaster/pfif/export.xml")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/xml")
    assert b"pfif" in r.content
    assert c.get("/disaster/pfif/export.xml?min_entry_date=yesterday").status_code == 400
    assert len(audit_events(a, action="disaster.pfif_export")) == 1
    r = c.post("/disaster/pfif/import/", {"source_domain": "test.google.com",
                                          "file": open(PEERS / "test.pfif-1.2-badrecord.xml", "rb")})
    assert r.status_code == 200 and "foo.google.com/person.666" in r.content.decode()
    assert c.get("/disaster/grants/").status_code == 200
    r = c.post("/disaster/grants/", {"host": "45383", "expires_at": "2000-01-01T00:00", "reason": "x"})
    assert r.status_code == 400 and "有効期限" in r.content.decode()
    assert client_for(staff["clerk_a"]).get("/disaster/grants/").status_code == 403


def test_the_disaster_command_imports_csv_and_pfif_and_exports(origin, munis, staff, tmp_path):
    from django.core.management import CommandError, call_command

    a, _ = munis
    with tenant_scope(a):
        s = actions.save_shelter(staff["disaster_a"], {"code": "S01", "name": "体育館", "kind": "designated",
                                                       "address": "x", "capacity_day": 5, "capacity_night": 5})
        actions.set_shelter_open(staff["disaster_a"], s.pk, True)
    f = tmp_path / "list.csv"
    f.write_text("氏名,フリガナ,生年月日,居所,公表\n山田太郎,ヤマダタロウ,1975-04-01,S01,○\n,x,,S01,\n", encoding="utf-8")
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("disaster", "import-evacuees", "--municipality", "44204", "--user", "disaster-a",
                     "--input", str(f))
    f.write_text("氏名,フリガナ,生年月日,居所,公表\n山田太郎,ヤマダタロウ,1975-04-01,S01,○\n", encoding="utf-8")
    with pytest.raises(CommandError, match="権限"):
        call_command("disaster", "import-evacuees", "--municipality", "44204", "--user", "clerk-a", "--input", str(f))
    call_command("disaster", "import-evacuees", "--municipality", "44204", "--user", "disaster-a", "--input", str(f))
    out = tmp_path / "out.xml"
    call_command("disaster", "pfif-export", "--municipality", "44204", "--user", "disaster-a", "--output", str(out))
    assert "山田太郎" in out.read_text(encoding="utf-8")
    call_command("disaster", "pfif-import", "--municipality", "44204", "--user", "disaster-a", "--input",
                 str(PEERS / "test.pfif-1.2.xml"), "--domain", "test.google.com")
    with tenant_scope(a):
        assert PfifRecord.objects.count() == 1
    with pytest.raises(CommandError, match="unknown municipality"):
        call_command("disaster", "pfif-export", "--municipality", "99999", "--user", "x", "--output", str(out))


def test_the_operators_grant_screen(origin, munis, staff):
    op = client_for(staff["operator"])
    later = (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    r = op.post("/platform/disasters/grants/", {"origin": "45383", "host": "44204", "expires_at": later,
                                               "reason": "x"})
    assert r.status_code == 400 and "宣言中の災害がない" in r.content.decode()
    r = op.post("/platform/disasters/grants/", {"origin": "44204", "host": "45383", "expires_at": later,
                                               "reason": "運用者による許可"})
    assert r.status_code == 302
    page = op.get("/platform/disasters/grants/").content.decode()
    assert "運用者による許可" in page and "有効" in page
    import re

    gid = re.search(r'name="grant" value="(\d+)"', page).group(1)
    op.post("/platform/disasters/grants/", {"action": "revoke", "grant": gid, "origin": "44204"})
    assert "取消" in op.get("/platform/disasters/grants/").content.decode()
    assert len(audit_events(munis[1], action="disaster.grant_revoke")) == 1
    assert client_for(staff["admin_a"]).get("/platform/disasters/grants/").status_code == 403
