"""The audit log: every view, search and change is recorded; the hash chain detects altered, deleted and truncated
entries; the command reports the first broken link; the audit page is the admin's, per municipality."""
import io
import json

import pytest
from conftest import INTAKE, audit_events as events, client_for
from django.core.management import call_command
from django.db import connection
from django.test import Client

from jichitai.audit.actions import record_event
from jichitai.audit.models import AppendOnlyError, AuditChain, AuditEvent
from jichitai.audit.verify import verify_all, verify_chain
from jichitai.residents.actions import household_version
from jichitai.residents.models import Person
from jichitai.tenancy.scope import tenant_scope

# the tampering below is an attacker's with the owner's rights, past the append-only triggers (tests/test_db_guard.py)
pytestmark = pytest.mark.usefixtures("attacker_db")


@pytest.fixture
def family(town_a, staff):
    """A's family (3 change events) and a few views: a chain of 7 entries."""
    people = town_a.family()
    with tenant_scope(town_a.m):
        for p in people + (people[0],):
            record_event(town_a.m, "resident.view", actor=staff["clerk_a"], object_type="person", object_id=p.pk,
                         detail={"atena_no": p.atena_no})
    return people


def test_every_view_search_and_change_is_audited(family, town_a, staff):
    head, wife, child = family
    m = town_a.m
    c = client_for(staff["viewer_a"])
    n0 = AuditEvent.all_chains.count()
    m_id = AuditEvent.all_chains.order_by("-id").first().id

    def events(m, **filters):
        return [e for e in globals()["events"](m, **filters) if e.id > m_id]

    c.get(f"/residents/{wife.pk}/")
    c.get(f"/residents/{child.pk}/")
    views = events(m, action="resident.view")
    assert [e.object_id for e in views] == [str(wife.pk), str(child.pk)]
    assert all(e.actor_username == "viewer-a" and e.actor_role == "viewer" and e.object_type == "person"
               for e in views)
    assert json.loads(views[0].detail) == {"atena_no": wife.atena_no}

    c.get(f"/households/{head.household_id}/")
    hv = events(m, action="household.view")
    assert len(hv) == 1 and hv[0].object_id == str(head.household_id)

    c.get("/residents/", {"kana": "やまだ", "birth_date": "S50.4.1"})
    c.get("/residents/", {"name": "山田", "page": "1"})
    c.get("/residents/", {"address": "三本松"}, HTTP_X_TERMINAL_ID="窓口2")
    searches = events(m, action="resident.search")
    assert len(searches) == 3
    d = json.loads(searches[0].detail)
    assert d["query"] == {"kana": "やまだ", "birth_date": "S50.4.1"} and d["results"] == 1 and d["page"] == 1
    assert json.loads(searches[1].detail)["query"] == {"name": "山田"}
    assert json.loads(searches[1].detail)["results"] == 3
    assert json.loads(searches[2].detail)["query"] == {"address": "三本松"}
    assert searches[2].terminal == "unregistered:窓口2@127.0.0.1"  # never registered: recorded as such
    assert AuditEvent.all_chains.count() == n0 + 6

    # a change through the web: exactly one change event, by the clerk
    clerk = client_for(staff["clerk_a"])
    r = clerk.post(f"/residents/{wife.pk}/change/move_within/",
                   {**INTAKE, "expected_version": wife.version, "address": "豆田町5番1号", "change_date": "R6.4.1",
                    "notification_date": "R6.4.2", "household_mode": "new", "new_household_head": wife.pk,
                    "step": "commit"})
    assert r.status_code == 302
    ch = events(m, action="resident.change.move_within")
    assert len(ch) == 1 and ch[0].actor_username == "clerk-a" and ch[0].object_id == str(wife.pk)
    # confirmation steps and form pages are not changes
    clerk.post(f"/residents/{head.pk}/change/death/", {**INTAKE, "expected_version": head.version, "death_date": "R6.4.1",
                                                       "notification_date": "R6.4.1", "step": "confirm"})
    assert not events(m, action="resident.change.death")
    assert verify_chain(m.code).ok


def test_household_changes_via_web_are_audited(family, town_a, staff):
    head, wife, child = family
    clerk = client_for(staff["clerk_a"])
    with tenant_scope(town_a.m):
        version = household_version(Person.objects.get(pk=head.pk).household)
    r = clerk.post(f"/households/{head.household_id}/change/birth/",
                   {**INTAKE, "family_name": "山田", "family_name_kana": "やまだ", "given_name": "二郎", "given_name_kana": "ジロウ",
                    "birth_date": "R5.1.10", "sex": "1", "relationship": "子", "notification_date": "R5.1.20",
                    "expected_version": version, "step": "commit"})
    assert r.status_code == 302, r.content.decode()
    births = events(town_a.m, action="resident.change.birth")
    assert len(births) == 2  # the fixture's child, and this one
    with tenant_scope(town_a.m):
        baby = Person.objects.get(given_name="二郎")
        assert baby.family_name_kana == "ヤマダ"  # typed in hiragana, stored in katakana
    assert births[-1].object_id == str(baby.pk)


def test_verify_passes_on_an_intact_chain(family, town_a, town_b, staff):
    town_b.family(family_name="綾野", kana="アヤノ")
    client_for(staff["admin_a"]).get("/audit/")
    reports = {r.key: r for r in verify_all()}
    assert reports["44204"].ok and reports["45383"].ok
    assert reports["44204"].entries == AuditEvent.all_chains.filter(chain_key="44204").count() > 3
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert "44204: OK" in out.getvalue() and "45383: OK" in out.getvalue()
    seqs = list(AuditEvent.all_chains.filter(chain_key="44204").order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def _middle(key):
    rows = list(AuditEvent.all_chains.filter(chain_key=key).order_by("seq"))
    assert len(rows) >= 5
    return rows[len(rows) // 2]


def _run_verify(*args):
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("audit", "verify", *args, stdout=out, stderr=err)
    return exc.value.code, out.getvalue(), err.getvalue()


def test_tampered_detail_is_detected_at_that_seq(family, town_a, town_b):
    town_b.family(family_name="綾野", kana="アヤノ")
    target = _middle("44204")
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_auditevent SET detail = %s WHERE id = %s", ['{"kind":"birth"}', target.pk])
    report = verify_chain("44204")
    assert not report.ok and report.broken_seq == target.seq and "改ざん" in report.reason
    assert verify_chain("45383").ok  # the other municipality's chain is independent
    code, out, err = _run_verify()
    assert code == 1
    assert f"44204: BROKEN at seq {target.seq}" in out and "45383: OK" in out
    assert "破損" in err
    code, out, _ = _run_verify("--municipality", "44204")
    assert code == 1 and f"BROKEN at seq {target.seq}" in out


@pytest.mark.parametrize("column, value", [("actor_username", "someone-else"), ("object_id", "999"),
                                           ("action", "resident.search"), ("terminal", "偽端末")])
def test_tampering_any_covered_column_is_detected(family, column, value):
    target = _middle("44204")
    with connection.cursor() as cur:
        cur.execute(f"UPDATE audit_auditevent SET {column} = %s WHERE id = %s", [value, target.pk])
    report = verify_chain("44204")
    assert not report.ok and report.broken_seq == target.seq


def test_rehashing_a_tampered_row_breaks_the_next_link(family):
    """Even an attacker who recomputes the row's own hash is caught at the next entry."""
    from jichitai.audit.actions import compute_hash

    target = _middle("44204")
    target.detail = '{"kind":"forged"}'
    new_hash = compute_hash(target.prev_hash, target)
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_auditevent SET detail = %s, entry_hash = %s WHERE id = %s",
                    [target.detail, new_hash, target.pk])
    report = verify_chain("44204")
    assert not report.ok and report.broken_seq == target.seq + 1


def test_deleted_middle_row_is_detected(family):
    target = _middle("44204")
    with connection.cursor() as cur:
        cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [target.pk])
    report = verify_chain("44204")
    assert not report.ok and report.broken_seq == target.seq and "欠落" in report.reason
    code, out, _ = _run_verify()
    assert code == 1 and f"BROKEN at seq {target.seq}" in out


def test_truncated_last_row_is_detected(family):
    last = AuditEvent.all_chains.filter(chain_key="44204").order_by("-seq").first()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [last.pk])
    report = verify_chain("44204")
    assert not report.ok and report.broken_seq == last.seq and "末尾" in report.reason
    code, out, _ = _run_verify()
    assert code == 1 and f"44204: BROKEN at seq {last.seq}" in out


def test_truncating_the_whole_chain_is_detected(family):
    with connection.cursor() as cur:
        cur.execute("DELETE FROM audit_auditevent WHERE chain_key = %s", ["44204"])
    assert not verify_chain("44204").ok
    assert _run_verify()[0] == 1


def test_audit_page_verify_button_shows_the_break(family, staff):
    target = _middle("44204")
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_auditevent SET detail = %s WHERE id = %s", ["{}", target.pk])
    r = client_for(staff["admin_a"]).get("/audit/", {"verify": "1"})
    assert r.status_code == 200
    body = r.content.decode()
    assert "改ざんまたは欠落を検出しました" in body and f"記録番号 {target.seq}" in body


def test_audit_rows_cannot_be_changed_or_deleted_through_the_orm(family):
    e = AuditEvent.all_chains.order_by("id").first()
    original = e.detail
    e.detail = '{"forged":true}'
    with pytest.raises(AppendOnlyError):
        e.save()
    with pytest.raises(RuntimeError):
        e.save(update_fields=["detail"])
    with pytest.raises(AppendOnlyError):
        e.delete()
    assert AuditEvent.all_chains.get(pk=e.pk).detail == original
    assert verify_chain("44204").ok


def test_admin_audit_page_lists_and_filters(family, town_a, staff):
    head, wife, _ = family
    client_for(staff["clerk_a"]).get(f"/residents/{wife.pk}/")
    client_for(staff["viewer_a"]).get("/residents/", {"name": "山田"})
    admin = client_for(staff["admin_a"])
    r = admin.get("/audit/")
    assert r.status_code == 200
    rows = r.context["rows"]
    actions = {e.action for e, _ in rows}
    assert {"resident.view", "resident.search", "resident.change.move_in", "resident.change.birth"} <= actions
    seqs = [e.seq for e, _ in rows]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    body = r.content.decode()
    assert "住民の照会" in body and "異動: 転入" in body and "clerk-a" in body

    r = admin.get("/audit/", {"action": "resident.view"})
    assert {e.action for e, _ in r.context["rows"]} == {"resident.view"}
    r = admin.get("/audit/", {"action": "resident.change"})
    got = {e.action for e, _ in r.context["rows"]}
    assert got and all(a.startswith("resident.change.") for a in got)
    r = admin.get("/audit/", {"actor": "viewer-a"})
    assert r.context["rows"] and {e.actor_username for e, _ in r.context["rows"]} == {"viewer-a"}
    r = admin.get("/audit/", {"actor": "viewer-a", "action": "resident.view"})
    assert r.context["rows"] == []
    r = admin.get("/audit/", {"object_id": str(wife.pk)})
    assert r.context["rows"] and {e.object_id for e, _ in r.context["rows"]} <= {str(wife.pk)}
    # viewing the audit log is itself audited, with the filter
    av = events(town_a.m, action="audit.view")
    assert len(av) == 6 and json.loads(av[2].detail)["filter"] == {"action": "resident.change"}
    # the detail page of one event
    e = events(town_a.m, action="resident.search")[0]
    r = admin.get(f"/audit/{e.pk}/")
    assert r.status_code == 200 and e.entry_hash in r.content.decode() and "住民の検索" in r.content.decode()
    assert f"バージョン2（HMAC-SHA256、鍵ID {e.key_id}）" in r.content.decode()


def test_audit_page_paginates(family, town_a, staff):
    with tenant_scope(town_a.m):
        for i in range(60):
            record_event(town_a.m, "resident.view", actor=staff["clerk_a"], object_type="person", object_id=i)
    admin = client_for(staff["admin_a"])
    r = admin.get("/audit/")
    assert len(r.context["rows"]) == 50 and r.context["has_next"]
    r = admin.get("/audit/", {"page": "2"})
    assert r.context["rows"] and r.context["page"] == 2
    assert admin.get("/audit/", {"page": "x"}).status_code == 200


@pytest.mark.parametrize("role", ["clerk_a", "viewer_a", "disaster_a", "operator"])
def test_only_admins_see_the_audit_log(family, town_a, staff, role):
    c = client_for(staff[role])
    assert c.get("/audit/").status_code == 403
    e = events(town_a.m)[0]
    assert c.get(f"/audit/{e.pk}/").status_code == 403


def test_audit_page_of_a_never_shows_b_events(family, town_a, town_b, staff):
    b_head, _, _ = town_b.family(family_name="綾野", kana="アヤノ")
    client_for(staff["clerk_b"]).get(f"/residents/{b_head.pk}/")
    admin = client_for(staff["admin_a"])
    r = admin.get("/audit/")
    assert {e.municipality_id for e, _ in r.context["rows"]} == {town_a.m.pk}
    body = r.content.decode()
    assert "admin-b" not in body and "clerk-b" not in body
    assert admin.get("/audit/", {"actor": "clerk-b"}).context["rows"] == []
    for e in AuditEvent.all_chains.filter(municipality=town_b.m):
        assert admin.get(f"/audit/{e.pk}/").status_code == 404
    # and B's admin sees B's only
    r = client_for(staff["admin_b"]).get("/audit/")
    assert {e.municipality_id for e, _ in r.context["rows"]} == {town_b.m.pk}


def test_failed_login_of_the_operator_goes_to_the_platform_chain(staff):
    Client().post("/login/", {"username": "operator", "password": "wrong-password"})
    assert AuditEvent.all_chains.filter(chain_key="platform", action="auth.failed").count() == 1
    assert verify_chain("platform").ok
    assert AuditChain.objects.get(key="platform").last_seq == 1


@pytest.mark.django_db
def test_bulk_update_and_delete_of_history_and_audit_are_refused(town_a):
    """The append-only guard also covers queryset-level writes, not only single rows."""
    from jichitai.audit.models import AppendOnlyError, AuditEvent
    from jichitai.residents.models import PersonHistory
    from jichitai.tenancy.scope import tenant_scope

    town_a.family()
    with tenant_scope(town_a.m):
        before = list(PersonHistory.objects.values_list("id", "note"))
        with pytest.raises(RuntimeError):
            PersonHistory.objects.filter(history_no=1).update(note="x")
        with pytest.raises(RuntimeError):
            PersonHistory.objects.all().delete()
        assert list(PersonHistory.objects.values_list("id", "note")) == before
        with pytest.raises(AppendOnlyError):
            AuditEvent.objects.all().update(detail="{}")
        with pytest.raises(AppendOnlyError):
            AuditEvent.all_chains.all().delete()


@pytest.mark.django_db
def test_failed_login_of_unknown_user_is_audited(client, munis):
    from jichitai.audit.models import AuditEvent

    assert not client.login(username="no-such-user", password="whatever-123")
    e = AuditEvent.all_chains.get(action="auth.failed_unknown_user")
    assert e.chain_key == "platform" and "no-such-user" in e.detail
