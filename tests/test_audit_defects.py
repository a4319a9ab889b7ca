"""Issue 9, item 7: the audit page's page numbers never give 500; terminals are registered per municipality and a
request's X-Terminal-Id is recorded only when registered and active (audit entries and history rows alike)."""
import json

import pytest
from conftest import INTAKE, audit_events as events, client_for
from django.test import Client

from jichitai.audit.actions import record_event
from jichitai.audit.models import AuditEvent, Terminal
from jichitai.audit.verify import verify_chain
from jichitai.residents.models import PersonHistory
from jichitai.tenancy.scope import tenant_scope


@pytest.fixture(autouse=True)
def _whole_chains_readable():
    """These tests read (and tamper with) whole audit chains as system code and an attacker would, so they run in
    `cross_tenant`: on PostgreSQL row-level security otherwise hides the rows a raw check reads."""
    from jichitai.tenancy.scope import cross_tenant

    with cross_tenant("test: audit chains read whole"):
        yield



@pytest.fixture
def log(munis, staff):
    a, _ = munis
    with tenant_scope(a):
        for i in range(120):
            record_event(a, "resident.view", actor=staff["clerk_a"], object_type="person", object_id=i)
    return a


@pytest.mark.parametrize("page", ["99999999999999999999999999", "9223372036854775807", "10000001", "4"])
def test_huge_page_numbers_show_the_last_page_with_a_note(log, staff, page):
    r = client_for(staff["admin_a"]).get("/audit/", {"page": page})
    assert r.status_code == 200
    assert r.context["page"] == 3 and len(r.context["rows"]) == 20  # 120 views (+ this page's audit.view)
    body = r.content.decode()
    assert "には記録がありません" in body and "最後のページ（3）を表示しています" in body


@pytest.mark.parametrize("page", ["x", "-1", "0", "１", "1e3", "2.5", " "])
def test_non_numeric_pages_show_the_first_page_with_a_note(log, staff, page):
    r = client_for(staff["admin_a"]).get("/audit/", {"page": page})
    assert r.status_code == 200 and r.context["page"] == 1 and len(r.context["rows"]) == 50
    if page.strip():
        assert "ページ番号は1以上の数字で指定してください" in r.content.decode()


def test_a_filter_with_no_rows_and_a_high_page(log, staff):
    r = client_for(staff["admin_a"]).get("/audit/", {"actor": "nobody", "page": "7"})
    assert r.status_code == 200 and r.context["rows"] == [] and r.context["page"] == 1


def test_huge_event_id_is_not_found(log, staff):
    c = client_for(staff["admin_a"])
    assert c.get("/audit/99999999999999999999999999/").status_code == 404
    assert c.get("/audit/9223372036854775807/").status_code == 404


def test_verify_button_reports_the_checkpoint_status(log, staff):
    from jichitai.audit.checkpoints import checkpoint_heads

    c = client_for(staff["admin_a"])
    body = c.get("/audit/", {"verify": "1"}).content.decode()
    assert "ハッシュ連鎖は正常です" in body and "署名付きチェックポイントはまだありません" in body
    checkpoint_heads()
    body = c.get("/audit/", {"verify": "1"}).content.decode()
    assert "署名付きチェックポイント1件と一致しました（最新: 記録番号 " in body


# ---------------------------------------------------------------- terminals

def test_unregistered_terminal_header_is_recorded_as_unregistered(munis, staff):
    a, _ = munis
    c = client_for(staff["viewer_a"])
    c.get("/residents/", {"name": "山田"}, HTTP_X_TERMINAL_ID="MADO-1")
    c.get("/residents/", {"name": "山田"}, HTTP_X_TERMINAL_ID="a@b:c\x07<script>" + "x" * 100)
    c.get("/residents/", {"name": "山田"})
    got = [e.terminal for e in events(a, action="resident.search")]
    assert got[0] == "unregistered:MADO-1@127.0.0.1"
    assert got[1].startswith("unregistered:a_b_c__script_") and got[1].endswith("@127.0.0.1")
    assert len(got[1]) <= len("unregistered:") + 32 + len("@127.0.0.1")
    assert got[2] == "127.0.0.1"


def test_admin_registers_a_terminal_and_it_is_recorded_for_audit_and_history(town_a, staff):
    a = town_a.m
    admin = client_for(staff["admin_a"])
    r = admin.get("/audit/terminals/")
    assert r.status_code == 200 and "登録された端末はありません" in r.content.decode()
    r = admin.post("/audit/terminals/", {"terminal_id": "MADO-2", "name": "市民課 窓口2"})
    assert r.status_code == 302
    with tenant_scope(a):
        t = Terminal.objects.get()
    assert (t.terminal_id, t.name, t.is_active) == ("MADO-2", "市民課 窓口2", True)
    reg = events(a, action="audit.terminal.register")
    assert len(reg) == 1 and json.loads(reg[0].detail) == {"terminal_id": "MADO-2", "name": "市民課 窓口2"}
    assert reg[0].actor_username == "admin-a"

    # a search and a change from the registered terminal
    head, wife, _ = town_a.family()
    clerk = client_for(staff["clerk_a"])
    clerk.get("/residents/", {"name": "山田"}, HTTP_X_TERMINAL_ID="MADO-2")
    assert events(a, action="resident.search")[-1].terminal == "MADO-2@127.0.0.1"
    with tenant_scope(a):
        wife.refresh_from_db()
    r = clerk.post(f"/residents/{wife.pk}/change/move_within/",
                   {**INTAKE, "expected_version": wife.version, "address": "豆田町5番1号", "change_date": "R6.4.1",
                    "notification_date": "R6.4.2", "household_mode": "new", "new_household_head": wife.pk,
                    "step": "commit"}, HTTP_X_TERMINAL_ID="MADO-2")
    assert r.status_code == 302
    with tenant_scope(a):
        h = PersonHistory.objects.filter(person=wife).order_by("-history_no").first()
    assert h.terminal == "MADO-2@127.0.0.1"
    assert events(a, action="resident.change.move_within")[-1].terminal == h.terminal  # one function for both

    # disabled: recorded as unregistered again, for history rows too
    from jichitai.audit import terminals

    r = admin.post("/audit/terminals/", {"toggle": str(t.pk), "active": "0"})
    assert r.status_code == 302
    with tenant_scope(a):
        assert not Terminal.objects.get().is_active
    assert len(events(a, action="audit.terminal.disable")) == 1
    terminals._cache.clear()  # other processes see it within CACHE_SECONDS
    with tenant_scope(a):
        wife.refresh_from_db()
        n_before = PersonHistory.objects.filter(person=wife).count()
    clerk.post(f"/residents/{wife.pk}/change/move_within/",
               {**INTAKE, "expected_version": wife.version, "address": "豆田町6番1号", "change_date": "R6.5.1",
                "notification_date": "R6.5.2", "step": "commit"}, HTTP_X_TERMINAL_ID="MADO-2")
    with tenant_scope(a):
        h = PersonHistory.objects.filter(person=wife).order_by("-history_no").first()
    assert h.history_no == n_before + 1 and h.terminal == "unregistered:MADO-2@127.0.0.1"
    admin.post("/audit/terminals/", {"toggle": str(t.pk), "active": "1"})
    assert len(events(a, action="audit.terminal.enable")) == 1
    assert verify_chain(a.code).ok


def test_a_terminal_of_another_municipality_is_unregistered_here(munis, staff):
    a, b = munis
    client_for(staff["admin_b"]).post("/audit/terminals/", {"terminal_id": "MADO-1", "name": "綾町 窓口"})
    client_for(staff["viewer_a"]).get("/residents/", {"name": "山田"}, HTTP_X_TERMINAL_ID="MADO-1")
    assert events(a, action="resident.search")[-1].terminal == "unregistered:MADO-1@127.0.0.1"
    # and A's admin neither sees nor toggles B's terminal
    with tenant_scope(b):
        tb = Terminal.objects.get()
    admin_a = client_for(staff["admin_a"])
    assert "綾町 窓口" not in admin_a.get("/audit/terminals/").content.decode()
    assert admin_a.post("/audit/terminals/", {"toggle": str(tb.pk), "active": "0"}).status_code == 404
    with tenant_scope(b):
        assert Terminal.objects.get().is_active


@pytest.mark.parametrize("values, field, message", [
    ({"terminal_id": "窓口2", "name": "x"}, "terminal_id", "半角英数字で始まり"),
    ({"terminal_id": "a b", "name": "x"}, "terminal_id", "半角英数字で始まり"),
    ({"terminal_id": "MADO-3", "name": "  "}, "name", "端末名を入力してください"),
])
def test_bad_terminal_input_is_refused_with_a_japanese_message(munis, staff, values, field, message):
    a, _ = munis
    r = client_for(staff["admin_a"]).post("/audit/terminals/", values)
    assert r.status_code == 400 and message in r.content.decode()
    with tenant_scope(a):
        assert not Terminal.objects.exists()
    assert not events(a, action="audit.terminal.register")


def test_duplicate_terminal_id_is_refused(munis, staff):
    a, _ = munis
    admin = client_for(staff["admin_a"])
    admin.post("/audit/terminals/", {"terminal_id": "MADO-4", "name": "窓口4"})
    r = admin.post("/audit/terminals/", {"terminal_id": "MADO-4", "name": "別の窓口"})
    assert r.status_code == 400 and "既に登録されています" in r.content.decode()
    with tenant_scope(a):
        assert list(Terminal.objects.values_list("name", flat=True)) == ["窓口4"]
    assert len(events(a, action="audit.terminal.register")) == 1


@pytest.mark.parametrize("role", ["clerk_a", "viewer_a", "disaster_a", "operator"])
def test_only_admins_manage_terminals(munis, staff, role):
    c = client_for(staff[role])
    assert c.get("/audit/terminals/").status_code == 403
    assert c.post("/audit/terminals/", {"terminal_id": "MADO-5", "name": "x"}).status_code == 403
    assert not Terminal.all_tenants.exists()


def test_a_page_number_of_thousands_of_digits_is_not_a_500(staff):
    c = Client()
    c.force_login(staff["admin_a"])
    r = c.get("/audit/", {"page": "9" * 5000})
    assert r.status_code == 200
