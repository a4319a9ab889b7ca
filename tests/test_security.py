"""Security a municipality depends on: DV等支援措置 address restriction, 個人番号 visibility and never logging it,
sign-in lockout, idle timeout, CSRF, password hashing, security headers and read-only roles."""
import datetime as dt

import pytest
from conftest import INTAKE, PASSWORD, client_for, person_values, sees_all_tenants
from django.conf import settings
from django.test import Client

from jichitai.audit.models import AuditEvent
from jichitai.common.checkdigits import individual_number_check_digit
from jichitai.residents import actions
from jichitai.residents.models import Person, PersonHistory
from jichitai.residents.queries import WITHHELD, SearchCriteria, build_search
from jichitai.tenancy.models import StaffUser
from jichitai.tenancy.roles import Role
from jichitai.tenancy.scope import tenant_scope

D = dt.date
DV_ADDRESS = "秘匿町一丁目2番3号"
DV_NEW_ADDRESS = "隠里四丁目5番6号"
DV_PREVIOUS = "熊本県秘密市旧住所9番"


def _number(first11):
    return first11 + str(individual_number_check_digit(first11))


NUMBER = _number("31415926535")
NUMBER2 = _number("27182818284")


# ---------------------------------------------------------------- DV等支援措置

@pytest.fixture
def dv(town_a, staff):
    """A DV-protected resident in her own household (moved once, so the history has two addresses), and a family."""
    town_a.family()
    with tenant_scope(town_a.m):
        a = town_a.actor()
        p = actions.register_move_in(a, values=person_values(family_name="保護", family_name_kana="ホゴ",
                                                             given_name="静香", given_name_kana="シズカ", sex="2",
                                                             address=DV_ADDRESS, previous_address=DV_PREVIOUS,
                                                             dv_protected=True),
                                     change_date=D(2022, 4, 1), notification_date=D(2022, 4, 1))
        actions.register_move_within(a, p, expected_version=p.version, address=DV_NEW_ADDRESS,
                                     address_katagaki="秘匿荘201", change_date=D(2023, 4, 1),
                                     notification_date=D(2023, 4, 1))
        child = actions.register_birth(a, household=p.household,
                                       values={"family_name": "保護", "given_name": "陽", "family_name_kana": "ホゴ",
                                               "birth_date": D(2023, 6, 1), "sex": "1", "dv_protected": True},
                                       notification_date=D(2023, 6, 5))
        p = Person.objects.get(pk=p.pk)
    return p, child


DV_SECRETS = [DV_ADDRESS, DV_NEW_ADDRESS, "秘匿町", "隠里", "秘匿荘", DV_PREVIOUS, "秘密市"]


def _assert_withheld(body, where):
    for s in DV_SECRETS:
        assert s not in body, (where, s)


def test_dv_address_withheld_from_clerk_everywhere(dv, staff):
    p, child = dv
    c = client_for(staff["clerk_a"])
    pages = {
        "search by name": f"/residents/?name=保護",
        "search by kana": f"/residents/?kana=ほご",
        "detail": f"/residents/{p.pk}/",
        "child detail": f"/residents/{child.pk}/",
        "household": f"/households/{p.household_id}/",
        "change form": f"/residents/{p.pk}/change/move_within/",
        "correction form": f"/residents/{p.pk}/change/ex_officio_correction/",
        "dashboard": "/",
    }
    for where, url in pages.items():
        r = c.get(url)
        assert r.status_code == 200, where
        _assert_withheld(r.content.decode(), where)
    # the person is found, but shown without address
    r = c.get("/residents/", {"name": "保護"})
    rows = r.context["page"].rows
    assert len(rows) == 2 and all(v.full_address == WITHHELD for v in rows)
    assert WITHHELD in r.content.decode()
    # the history timeline: every snapshot is withheld too (the old address and the new)
    r = c.get(f"/residents/{p.pk}/")
    body = r.content.decode()
    assert body.count(WITHHELD) >= 3  # current address, previous address, each history snapshot
    assert len(r.context["history"]) == 2
    for h in r.context["history"]:
        assert h.view.full_address == WITHHELD and h.view.address == WITHHELD
        assert h.view.previous_address in ("", WITHHELD)
        assert all(label not in ("住所", "方書", "前住所") for label in h.changed)
    assert "住所等（非表示）" in body


@pytest.mark.parametrize("query", [DV_NEW_ADDRESS, "隠里", "日田市隠里四丁目", DV_ADDRESS])
def test_dv_person_not_findable_by_address_for_clerk(dv, staff, town_a, query):
    c = client_for(staff["clerk_a"])
    r = c.get("/residents/", {"address": query})
    assert r.status_code == 200 and r.context["page"].rows == []
    with tenant_scope(town_a.m):
        qs, _ = build_search(SearchCriteria(address=query), staff["clerk_a"], town_a.m)
        assert list(qs) == []


def test_dv_person_findable_by_address_for_admin_with_the_right(dv, staff, town_a):
    p, child = dv
    c = client_for(staff["admin_a"])
    r = c.get("/residents/", {"address": "隠里"})
    assert {v.pk for v in r.context["page"].rows} == {p.pk, child.pk}
    assert DV_NEW_ADDRESS in r.content.decode()
    r = c.get(f"/residents/{p.pk}/")
    body = r.content.decode()
    assert DV_NEW_ADDRESS in body and "秘匿荘201" in body and DV_ADDRESS in body  # previous address + history
    r = c.get(f"/households/{p.household_id}/")
    assert DV_NEW_ADDRESS in r.content.decode()


def test_dv_right_needs_both_the_flag_and_a_resident_role(dv, staff, town_a):
    p, _ = dv
    # an admin without the flag does not see it either
    admin2 = StaffUser.objects.create(username="admin-a2", role=Role.ADMIN, municipality=town_a.m)
    r = client_for(admin2).get(f"/residents/{p.pk}/")
    _assert_withheld(r.content.decode(), "admin without flag")
    # a viewer with the flag does see it (the flag is the right)
    viewer = StaffUser.objects.create(username="viewer-dv", role=Role.VIEWER, municipality=town_a.m,
                                      can_view_dv_protected=True)
    r = client_for(viewer).get(f"/residents/{p.pk}/")
    assert DV_NEW_ADDRESS in r.content.decode()


def test_dv_planned_move_out_destination_withheld_on_confirm_form(dv, staff, town_a):
    """The 転出先 of a DV-protected person is an address: withheld on every page a clerk without the right sees."""
    p, child = dv
    with tenant_scope(town_a.m):
        actions.register_move_out(town_a.actor(), Person.objects.get(pk=child.pk), expected_version=child.version,
                                  destination="秘密市転出先町1番", planned_date=D(2024, 5, 1),
                                  notification_date=D(2024, 4, 20))
    c = client_for(staff["clerk_a"])
    for url in (f"/residents/{child.pk}/", f"/residents/{child.pk}/change/move_out_confirmed/"):
        r = c.get(url)
        assert r.status_code == 200
        assert "転出先町" not in r.content.decode(), url
    r = client_for(staff["admin_a"]).get(f"/residents/{child.pk}/")
    assert "秘密市転出先町1番" in r.content.decode()


# ---------------------------------------------------------------- 個人番号

@pytest.fixture
def numbered(town_a, staff):
    with tenant_scope(town_a.m):
        p = actions.register_move_in(town_a.actor(), values=person_values(family_name="番号", family_name_kana="バンゴウ",
                                                                          individual_number=NUMBER),
                                     change_date=D(2022, 4, 1), notification_date=D(2022, 4, 1))
    return p


def _spaced(n):
    return [n, f"{n[:4]} {n[4:8]} {n[8:]}", f"{n[:4]}-{n[4:8]}-{n[8:]}"]


@pytest.mark.parametrize("role", ["clerk_a", "admin_a"])
def test_individual_number_shown_to_clerk_and_admin(numbered, staff, role):
    r = client_for(staff[role]).get(f"/residents/{numbered.pk}/")
    assert NUMBER in r.content.decode()


@pytest.mark.parametrize("role", ["viewer_a", "disaster_a"])
def test_individual_number_masked_for_viewer_and_disaster(numbered, staff, role):
    c = client_for(staff[role])
    r = c.get(f"/residents/{numbered.pk}/")
    body = r.content.decode()
    assert r.status_code == 200 and "＊＊＊＊" in body
    for form in _spaced(NUMBER):
        assert form not in body
    for url in (f"/residents/?name=番号", f"/households/{numbered.household_id}/", "/"):
        body = c.get(url).content.decode()
        assert NUMBER not in body, url


@sees_all_tenants
def test_individual_number_never_in_the_audit_log(numbered, staff, town_a):
    c = client_for(staff["clerk_a"])
    c.get(f"/residents/{numbered.pk}/")
    c.get("/residents/", {"name": "番号"})
    c.get(f"/households/{numbered.household_id}/")
    # 職権修正 of the number through the web, with the confirmation step
    url = f"/residents/{numbered.pk}/change/ex_officio_correction/"
    r = c.get(url)
    assert r.status_code == 200
    form = r.context["form"]
    data = {name: (form[name].value() if form[name].value() is not None else "") for name in form.fields}
    data = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
    data = {k: v for k, v in data.items() if v is not False}
    data.update({"individual_number": NUMBER2, "change_date": "R6.4.1", "note": "番号の誤記を修正"})
    r = c.post(url, {**INTAKE, **data, "step": "confirm"})
    assert r.status_code == 200, r.content.decode()
    confirm_body = r.content.decode()
    assert "（入力あり・検査用数字確認済み）" in confirm_body
    r = c.post(url, {**INTAKE, **data, "step": "commit"})
    assert r.status_code == 302, r.content.decode()
    with tenant_scope(town_a.m):
        assert Person.objects.get(pk=numbered.pk).individual_number == NUMBER2
        # and once more through the actions, with the number also passed in detail by a careless caller
        p = Person.objects.get(pk=numbered.pk)
        actions.correct_person(town_a.actor(), p, expected_version=p.version,
                               changes={"individual_number": NUMBER}, change_date=D(2024, 4, 2), note="再修正")
        from jichitai.audit.actions import record_event
        record_event(town_a.m, "test.careless", actor=staff["clerk_a"],
                     detail={"individual_number": NUMBER2, "nested": {"individual_number": NUMBER}})
    # admin views the audit log pages too
    a = client_for(staff["admin_a"])
    a.get("/audit/")
    events = list(AuditEvent.all_chains.all())
    assert any(e.action == "resident.change.ex_officio_correction" for e in events)
    assert any('"individual_number"' in e.detail or "individual_number" in e.detail for e in events)
    for e in events:
        text = " ".join([e.detail, e.object_id, e.terminal, e.actor_username, e.action])
        for n in (NUMBER, NUMBER2):
            for form in _spaced(n):
                assert form not in text, (e.action, e.detail)
    for e in events:
        with tenant_scope(town_a.m):
            body = a.get(f"/audit/{e.pk}/").content.decode() if e.municipality_id == town_a.m.pk else ""
        assert NUMBER not in body and NUMBER2 not in body


# ---------------------------------------------------------------- sign-in

def test_lockout_after_five_wrong_passwords(staff):
    from jichitai.web.views import sign_in_refused_message

    refused = sign_in_refused_message()
    assert "職員管理" in refused  # names the screen where an admin unlocks
    c = Client()
    user = staff["clerk_a"]
    for i in range(5):
        r = c.post("/login/", {"username": user.username, "password": f"wrong-{i}"})
        assert r.status_code == 200
        assert refused in r.content.decode()
    user.refresh_from_db()
    assert user.locked_until is not None
    r = c.post("/login/", {"username": user.username, "password": PASSWORD})
    assert r.status_code == 200
    body = r.content.decode()
    # the same message as for a wrong password or an unknown user: no hint that the user name exists
    assert refused in body and "一時的にロック" not in body
    assert refused in c.post("/login/", {"username": "no-such-user", "password": "x"}).content.decode()
    assert "_auth_user_id" not in c.session
    assert c.get("/residents/").status_code == 302  # still signed out
    with tenant_scope(user.municipality):
        failed = list(AuditEvent.objects.filter(action="auth.failed").order_by("seq"))
        assert len(failed) == 5 and all(e.actor_username == user.username for e in failed)
        assert '"locked":true' in failed[-1].detail and '"locked":false' in failed[0].detail
        assert AuditEvent.objects.filter(action="auth.locked_attempt").exists()
        assert not AuditEvent.objects.filter(action="auth.login").exists()
    # other staff are not affected
    assert Client().login(username="clerk-b", password=PASSWORD)


def test_four_failures_then_success_resets_the_count(staff):
    c = Client()
    user = staff["viewer_a"]
    for i in range(4):
        c.post("/login/", {"username": user.username, "password": "nope"})
    r = c.post("/login/", {"username": user.username, "password": PASSWORD})
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.failed_logins == 0 and user.locked_until is None
    with tenant_scope(user.municipality):
        assert AuditEvent.objects.filter(action="auth.login", actor_username=user.username).count() == 1


def test_idle_timeout_settings():
    idle = settings.JICHITAI_IDLE_TIMEOUT_SECONDS
    assert isinstance(idle, int) and 0 < idle <= 60 * 60
    assert isinstance(settings.SESSION_COOKIE_AGE, int) and idle <= settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert "jichitai.tenancy.middleware.IdleTimeoutMiddleware" in settings.MIDDLEWARE
    assert settings.SESSION_COOKIE_HTTPONLY


def test_idle_timeout_counts_from_the_last_request(staff, town_a):
    import time

    head, _, _ = town_a.family()
    idle = settings.JICHITAI_IDLE_TIMEOUT_SECONDS
    c = client_for(staff["clerk_a"])
    assert c.get("/residents/").status_code == 200
    # active a little less than the timeout ago: still signed in, and the clock restarts from this request
    s = c.session
    s["last_seen"] = int(time.time()) - idle + 30
    s.save()
    assert c.get("/residents/").status_code == 200
    assert c.session["last_seen"] >= int(time.time()) - 5
    # idle longer than the timeout: signed out, audited, and a change posted then is not written
    s = c.session
    s["last_seen"] = int(time.time()) - idle - 5
    s.save()
    r = c.post(f"/residents/{head.pk}/change/move_within/",
               {**INTAKE, "expected_version": head.version, "address": "豆田町5番1号", "change_date": "R6.4.1",
                "notification_date": "R6.4.1", "household_mode": "all", "step": "commit"})
    assert r.status_code == 302 and r.url.startswith("/login/")
    assert c.get("/residents/").status_code == 302
    with tenant_scope(town_a.m):
        assert Person.objects.get(pk=head.pk).address == "三本松二丁目3番5号"
        assert AuditEvent.objects.filter(action="auth.idle_timeout", actor_username="clerk-a").count() == 1


def test_csrf_token_required(staff, town_a):
    head, _, _ = town_a.family()
    c = Client(enforce_csrf_checks=True)
    c.force_login(staff["clerk_a"])
    r = c.post(f"/residents/{head.pk}/change/move_within/",
               {**INTAKE, "expected_version": head.version, "address": "豆田町5番1号", "change_date": "R6.4.1",
                "notification_date": "R6.4.1", "household_mode": "all", "step": "commit"})
    assert r.status_code == 403
    with tenant_scope(town_a.m):
        assert Person.objects.get(pk=head.pk).address == "三本松二丁目3番5号"
    r = Client(enforce_csrf_checks=True).post("/login/", {"username": "clerk-a", "password": PASSWORD})
    assert r.status_code == 403
    # with the token the same kind of request goes through
    r = c.get(f"/residents/{head.pk}/change/move_within/")
    r = c.post(f"/residents/{head.pk}/change/move_within/",
               {**INTAKE, "expected_version": head.version, "address": "豆田町5番1号", "change_date": "R6.4.1",
                "notification_date": "R6.4.1", "household_mode": "all", "step": "commit", "csrfmiddlewaretoken": r.context["csrf_token"]})
    assert r.status_code == 302


def test_passwords_stored_with_argon2(staff, munis):
    u = StaffUser(username="new-clerk", role=Role.CLERK, municipality=munis[0])
    u.set_password("a-long-password-123")
    u.save()
    u.refresh_from_db()
    assert u.password.startswith("argon2")
    assert staff["clerk_a"].password.startswith("argon2")
    assert Client().login(username="new-clerk", password="a-long-password-123")


def test_security_headers(staff):
    r = Client().get("/login/")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    c = client_for(staff["clerk_a"])
    r = c.get("/residents/")
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in r.headers
    assert r.headers["Cache-Control"] == "no-store"  # personal data never cached


def test_anonymous_is_sent_to_login(town_a):
    head, _, _ = town_a.family()
    c = Client()
    for url in ("/residents/", f"/residents/{head.pk}/", "/audit/", f"/households/{head.household_id}/"):
        r = c.get(url)
        assert r.status_code == 302 and r.url.startswith("/login/")
    r = c.post(f"/residents/{head.pk}/change/death/", {**INTAKE, "step": "commit"})
    assert r.status_code == 302 and r.url.startswith("/login/")


@pytest.mark.parametrize("role", ["viewer_a", "disaster_a"])
def test_read_only_roles_cannot_post_changes(town_a, staff, role):
    head, wife, _ = town_a.family()
    c = client_for(staff[role])
    with tenant_scope(town_a.m):
        before = PersonHistory.objects.count(), AuditEvent.objects.filter(action__startswith="resident.change").count()
    assert c.get(f"/residents/{head.pk}/").status_code == 200  # may read
    posts = {
        f"/residents/{wife.pk}/change/move_within/": {"expected_version": wife.version, "address": "豆田町1番",
                                                      "change_date": "R6.4.1", "notification_date": "R6.4.1"},
        f"/residents/{wife.pk}/change/death/": {"expected_version": wife.version, "death_date": "R6.4.1",
                                                "notification_date": "R6.4.1"},
        f"/households/{head.household_id}/change/birth/": {"family_name": "山田", "family_name_kana": "ヤマダ",
                                                           "birth_date": "R6.1.1", "sex": "1", "relationship": "子",
                                                           "notification_date": "R6.1.5"},
        "/residents/new/move_in/": {"family_name": "新", "family_name_kana": "シン", "birth_date": "S50.1.1",
                                    "sex": "1", "address": "豆田町1番", "previous_address": "福岡市",
                                    "change_date": "R6.4.1", "notification_date": "R6.4.1"},
    }
    for url, data in posts.items():
        assert c.get(url).status_code == 403, url
        for step in ("confirm", "commit"):
            assert c.post(url, {**INTAKE, **data, "step": step}).status_code == 403, url
    with tenant_scope(town_a.m):
        assert (PersonHistory.objects.count(),
                AuditEvent.objects.filter(action__startswith="resident.change").count()) == before
        assert Person.objects.get(pk=wife.pk).status == "resident"


@pytest.fixture
def clerk_without_number(staff):
    """The clerk role edited to change residents without seeing 個人番号 (roles are data, tenancy.RoleDefinition)."""
    from jichitai.tenancy.models import PermissionDefinition, RoleDefinition
    from jichitai.tenancy.roles import Perm, has_perm

    RoleDefinition.objects.get(role=Role.CLERK).permissions.remove(
        PermissionDefinition.objects.get(code=Perm.VIEW_INDIVIDUAL_NUMBER))
    clerk = staff["clerk_a"]
    assert has_perm(clerk, Perm.CHANGE_RESIDENTS) and not has_perm(clerk, Perm.VIEW_INDIVIDUAL_NUMBER)
    return clerk


def _correction_post(c, url, **changes):
    form = c.get(url).context["form"]
    data = {name: (form[name].value() if form[name].value() is not None else "") for name in form.fields}
    data = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
    data = {k: v for k, v in data.items() if v is not False}
    data.update({"change_date": "R6.4.1", "note": "氏名の誤記を修正", **changes})
    r = c.post(url, {**data, "step": "confirm"})
    assert r.status_code == 200, r.content.decode()
    confirm = r.content.decode()
    r = c.post(url, {**data, "step": "commit"})
    assert r.status_code == 302, r.content.decode()
    return confirm


def test_correction_form_never_shows_the_number_to_a_clerk_without_the_right(numbered, clerk_without_number,
                                                                               town_a):
    c = client_for(clerk_without_number)
    url = f"/residents/{numbered.pk}/change/ex_officio_correction/"
    r = c.get(url)
    body = r.content.decode()
    assert r.status_code == 200 and "空欄のままなら変わりません" in body
    for form in _spaced(NUMBER):
        assert form not in body
    assert not r.context["form"]["individual_number"].value()
    # a correction of another item, the number left as offered (empty): the stored number stays
    confirm = _correction_post(c, url, given_name="訂正")
    assert "（変更しません）" in confirm
    for form in _spaced(NUMBER):
        assert form not in confirm
    with tenant_scope(town_a.m):
        p = Person.objects.get(pk=numbered.pk)
        assert p.given_name == "訂正" and p.individual_number == NUMBER
    # typing a number corrects it (the clerk enters what the card says, without seeing the stored one)
    _correction_post(c, url, individual_number=NUMBER2)
    with tenant_scope(town_a.m):
        assert Person.objects.get(pk=numbered.pk).individual_number == NUMBER2
    assert NUMBER2 not in c.get(url).content.decode()


def test_correction_form_prefills_the_number_for_a_clerk_with_the_right(numbered, staff, town_a):
    c = client_for(staff["clerk_a"])
    url = f"/residents/{numbered.pk}/change/ex_officio_correction/"
    assert c.get(url).context["form"]["individual_number"].value() == NUMBER
    # with the right the field is the number itself: emptied on purpose, it is cleared
    _correction_post(c, url, individual_number="")
    with tenant_scope(town_a.m):
        assert Person.objects.get(pk=numbered.pk).individual_number == ""
