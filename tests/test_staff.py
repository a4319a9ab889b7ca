"""Staff identity: 職員管理 by municipal admins, the operator's first admin, own password change, roles as data.

Every write is an action with one audit event; admins manage only their own municipality's staff and never
create an operator."""
import pytest
from conftest import PASSWORD, make_user
from django.test import Client
from django.urls import reverse

from jichitai.audit.models import AuditEvent
from jichitai.tenancy import actions
from jichitai.tenancy.models import Municipality, PermissionDefinition, Prefecture, RoleDefinition, StaffUser
from jichitai.tenancy.roles import Perm, Role, ensure_default_roles, has_perm, perms_for_role
from jichitai.tenancy.scope import tenant_scope


def events(m, action):
    with tenant_scope(m):
        return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def admin_client(staff, key="admin_a"):
    c = Client()
    c.force_login(staff[key])
    return c


NEW = {"username": "tanaka-k", "display_name": "田中 健", "role": "clerk", "can_view_dv_protected": "on"}


# ---------------------------------------------------------------- list and refusals

def test_admin_sees_own_staff_only(staff):
    body = admin_client(staff).get("/staff/").content.decode()
    for own in ("admin-a", "clerk-a", "viewer-a", "disaster-a"):
        assert own in body
    main = body.split("<main")[1]
    assert "admin-b" not in main and "clerk-b" not in main and ">operator<" not in main
    assert 'autofocus' in body


@pytest.mark.parametrize("who", ["clerk_a", "viewer_a", "disaster_a", "operator"])
def test_only_admins_manage_staff(staff, who):
    c = Client()
    c.force_login(staff[who])
    target = staff["clerk_a"]
    for url in ("/staff/", "/staff/new/", "/staff/settings/", f"/staff/{target.pk}/", f"/staff/{target.pk}/unlock/",
                f"/staff/{target.pk}/reset-password/"):
        assert c.get(url).status_code == 403, url
    before = StaffUser.objects.get(pk=target.pk).password
    assert c.post(f"/staff/{target.pk}/reset-password/", {"step": "commit"}).status_code == 403
    assert StaffUser.objects.get(pk=target.pk).password == before
    with pytest.raises(actions.StaffRuleError):
        actions.create_staff(staff[who], "t", staff["clerk_a"].municipality, username="x-1", role=Role.CLERK)


def test_admin_of_a_cannot_touch_b_staff(staff):
    c = admin_client(staff)
    b_clerk = staff["clerk_b"]
    for url in (f"/staff/{b_clerk.pk}/", f"/staff/{b_clerk.pk}/disable/", f"/staff/{b_clerk.pk}/reset-mfa/"):
        assert c.get(url).status_code == 404
        assert c.post(url, {"step": "commit", "role": "admin", "display_name": "x"}).status_code == 404
    fresh = StaffUser.objects.get(pk=b_clerk.pk)
    assert fresh.is_active and fresh.role == Role.CLERK
    # the actions refuse too, whatever a caller passes
    for call in (lambda: actions.update_staff(staff["admin_a"], "t", b_clerk, display_name="x", role="admin",
                                              can_view_dv_protected=True),
                 lambda: actions.set_staff_active(staff["admin_a"], "t", b_clerk, False),
                 lambda: actions.reset_staff_password(staff["admin_a"], "t", b_clerk),
                 lambda: actions.unlock_staff(staff["admin_a"], "t", b_clerk),
                 lambda: actions.create_staff(staff["admin_a"], "t", b_clerk.municipality, username="spy")):
        with pytest.raises(actions.StaffRuleError):
            call()
    assert not StaffUser.objects.filter(username="spy").exists()
    # nor the operator's account
    with pytest.raises(actions.StaffRuleError):
        actions.reset_staff_password(staff["admin_a"], "t", staff["operator"])


# ---------------------------------------------------------------- create

def test_create_staff_with_confirmation_and_temporary_password(staff):
    c = admin_client(staff)
    m = staff["admin_a"].municipality
    r = c.get("/staff/new/")
    assert r.status_code == 200 and 'name="username"' in r.content.decode() and "autofocus" in r.content.decode()
    r = c.post("/staff/new/", {**NEW, "step": "confirm"})
    body = r.content.decode()
    assert "以下の内容で登録します" in body and "田中 健" in body and "窓口職員" in body
    assert not StaffUser.objects.filter(username="tanaka-k").exists()  # nothing stored before 登録する
    r = c.post("/staff/new/", {**NEW, "step": "commit"})
    body = r.content.decode()
    assert r.status_code == 200 and "仮パスワード" in body
    u = StaffUser.objects.get(username="tanaka-k")
    assert (u.municipality, u.role, u.can_view_dv_protected, u.must_change_password) == (m, Role.CLERK, True, True)
    temp = body.split('class="secret" tabindex="0" autofocus>')[1].split("<")[0]
    assert u.check_password(temp) and len(temp) == 14
    ev = events(m, "staff.created")
    assert len(ev) == 1 and ev[0].actor_username == "admin-a" and temp not in ev[0].detail
    # the audit log names the event in Japanese
    log = c.get("/audit/?action=staff.created").content.decode()
    assert "職員の登録" in log


def test_new_staff_signs_in_and_must_change_the_temporary_password(staff):
    m = staff["admin_a"].municipality
    u, temp = actions.create_staff(staff["admin_a"], "t", m, username="sato-h", display_name="佐藤", role=Role.VIEWER)
    c = Client()
    r = c.post("/login/", {"username": "sato-h", "password": temp})
    assert r.status_code == 302
    r = c.get("/residents/")
    assert r.status_code == 302 and r["Location"].startswith("/account/password/")
    assert "仮パスワードでログインしました" in c.get("/account/password/").content.decode()
    r = c.post("/account/password/", {"old_password": temp, "new_password1": "short", "new_password2": "short"})
    assert r.status_code == 200 and "短すぎ" in r.content.decode()  # Django's validator, in Japanese
    r = c.post("/account/password/", {"old_password": temp, "new_password1": "kawa-no-nagare-7",
                                      "new_password2": "kawa-no-nagare-7"})
    assert r.status_code == 302
    assert c.get("/residents/").status_code == 200  # the session survives the change
    u.refresh_from_db()
    assert not u.must_change_password and u.check_password("kawa-no-nagare-7")
    assert len(events(m, "staff.password_changed")) == 1


@pytest.mark.parametrize("username,error", [("clerk-a", "このユーザー名は既に使われています"),
                                            ("CLERK-A", "このユーザー名は既に使われています"),
                                            ("田中 健", "ユーザー名には英数字"),
                                            ("", "このフィールドは必須です")])
def test_bad_usernames_are_refused(staff, username, error):
    c = admin_client(staff)
    n = StaffUser.objects.count()
    r = c.post("/staff/new/", {**NEW, "username": username, "step": "commit"})
    assert r.status_code == 200 and error in r.content.decode()
    assert StaffUser.objects.count() == n
    assert not events(staff["admin_a"].municipality, "staff.created")


def test_admin_cannot_create_or_raise_an_operator(staff):
    c = admin_client(staff)
    n = StaffUser.objects.count()
    r = c.post("/staff/new/", {**NEW, "role": "operator", "step": "commit"})
    assert r.status_code == 200 and "operator は候補にありません" in r.content.decode()
    assert StaffUser.objects.count() == n
    clerk = staff["clerk_a"]
    r = c.post(f"/staff/{clerk.pk}/", {"display_name": "x", "role": "operator", "step": "commit"})
    assert StaffUser.objects.get(pk=clerk.pk).role == Role.CLERK
    with pytest.raises(actions.StaffRuleError):
        actions.create_staff(staff["admin_a"], "t", clerk.municipality, username="op2", role=Role.OPERATOR)
    with pytest.raises(actions.StaffRuleError):
        actions.update_staff(staff["admin_a"], "t", clerk, display_name="", role=Role.OPERATOR,
                             can_view_dv_protected=False)
    assert not StaffUser.objects.filter(role=Role.OPERATOR).exclude(username="operator").exists()


# ---------------------------------------------------------------- edit and operations

def test_edit_role_and_dv_right(staff):
    c = admin_client(staff)
    viewer = staff["viewer_a"]
    r = c.get(f"/staff/{viewer.pk}/")
    assert r.status_code == 200 and "アカウントの状態" in r.content.decode()
    data = {"display_name": "照会 花子", "role": "clerk", "can_view_dv_protected": "on"}
    r = c.post(f"/staff/{viewer.pk}/", {**data, "step": "confirm"})
    assert "以下の内容で変更します" in r.content.decode()
    assert StaffUser.objects.get(pk=viewer.pk).role == Role.VIEWER
    r = c.post(f"/staff/{viewer.pk}/", {**data, "step": "commit"})
    assert r.status_code == 302
    fresh = StaffUser.objects.get(pk=viewer.pk)
    assert (fresh.role, fresh.can_view_dv_protected, fresh.display_name) == (Role.CLERK, True, "照会 花子")
    ev = events(viewer.municipality, "staff.updated")
    assert len(ev) == 1 and '"role":["viewer","clerk"]' in ev[0].detail


def test_admin_cannot_demote_or_disable_self_or_the_last_admin(staff):
    admin = staff["admin_a"]
    c = admin_client(staff)
    r = c.post(f"/staff/{admin.pk}/", {"display_name": "", "role": "clerk", "step": "commit"})
    assert "自分自身の役割は変更できません" in r.content.decode()
    r = c.post(f"/staff/{admin.pk}/disable/", {"step": "commit"})
    assert r.status_code == 400 and "自分自身を利用停止にはできません" in r.content.decode()
    assert StaffUser.objects.get(pk=admin.pk).is_active
    second = make_user("admin-a2", Role.ADMIN, admin.municipality)
    actions.set_staff_active(second, "t", admin, False)  # another admin may disable this one
    with pytest.raises(actions.StaffRuleError, match="自分自身"):
        actions.set_staff_active(second, "t", second, False)


def test_disable_ends_sign_in_and_enable_restores_it(staff):
    clerk = staff["clerk_a"]
    session = Client()
    assert session.login(username=clerk.username, password=PASSWORD)
    assert session.get("/residents/").status_code == 200
    c = admin_client(staff)
    assert "この職員はログインできなくなり" in c.get(f"/staff/{clerk.pk}/disable/").content.decode()
    assert StaffUser.objects.get(pk=clerk.pk).is_active  # the GET only asks
    assert c.post(f"/staff/{clerk.pk}/disable/", {"step": "commit"}).status_code == 302
    assert not StaffUser.objects.get(pk=clerk.pk).is_active
    assert session.get("/residents/").status_code == 302  # the open session ends
    assert not Client().login(username=clerk.username, password=PASSWORD)
    assert "利用停止" in c.get("/staff/").content.decode()
    assert c.post(f"/staff/{clerk.pk}/enable/", {"step": "commit"}).status_code == 302
    assert Client().login(username=clerk.username, password=PASSWORD)
    m = clerk.municipality
    assert len(events(m, "staff.disabled")) == 1 and len(events(m, "staff.enabled")) == 1


def test_unlock_a_locked_account(staff):
    clerk = staff["clerk_a"]
    for i in range(5):
        Client().post("/login/", {"username": clerk.username, "password": f"wrong-{i}"})
    clerk.refresh_from_db()
    assert clerk.is_locked
    assert not Client().login(username=clerk.username, password=PASSWORD)
    c = admin_client(staff)
    assert "ロック中" in c.get("/staff/").content.decode()
    page = c.get(f"/staff/{clerk.pk}/unlock/").content.decode()
    assert "ロックを解除する" in page and "5 回" in page
    assert c.post(f"/staff/{clerk.pk}/unlock/", {"step": "commit"}).status_code == 302
    clerk.refresh_from_db()
    assert not clerk.is_locked and clerk.failed_logins == 0
    assert Client().login(username=clerk.username, password=PASSWORD)
    ev = events(clerk.municipality, "staff.unlocked")
    assert len(ev) == 1 and '"failed_logins":5' in ev[0].detail


def test_reset_password_issues_a_temporary_password(staff):
    clerk = staff["clerk_a"]
    c = admin_client(staff)
    assert StaffUser.objects.get(pk=clerk.pk).check_password(PASSWORD)
    r = c.post(f"/staff/{clerk.pk}/reset-password/", {"step": "commit"})
    body = r.content.decode()
    assert r.status_code == 200 and "一度だけ表示されます" in body
    temp = body.split('class="secret" tabindex="0" autofocus>')[1].split("<")[0]
    fresh = StaffUser.objects.get(pk=clerk.pk)
    assert not fresh.check_password(PASSWORD) and fresh.check_password(temp) and fresh.must_change_password
    ev = events(clerk.municipality, "staff.password_reset")
    assert len(ev) == 1 and temp not in ev[0].detail


def test_mfa_policy_setting(staff):
    c = admin_client(staff)
    m = staff["admin_a"].municipality
    r = c.post("/staff/settings/", {"mfa_required_for_all_staff": "on", "step": "confirm"})
    assert "以下の設定に変更します" in r.content.decode()
    assert not Municipality.objects.get(pk=m.pk).mfa_required_for_all_staff
    assert c.post("/staff/settings/", {"mfa_required_for_all_staff": "on", "step": "commit"}).status_code == 302
    assert Municipality.objects.get(pk=m.pk).mfa_required_for_all_staff
    assert not Municipality.objects.get(pk=staff["admin_b"].municipality_id).mfa_required_for_all_staff
    ev = events(m, "municipality.mfa_policy_set")
    assert len(ev) == 1 and '"after":true' in ev[0].detail


# ---------------------------------------------------------------- the operator's first admin

def test_operator_creates_the_first_admin_of_a_new_municipality(staff):
    op = Client()
    op.force_login(staff["operator"])
    r = op.post("/platform/new/", {"code": "44203", "name": "別府市", "step": "commit"})
    assert r.status_code == 302 and r["Location"] == "/platform/44203/first-admin/"
    tenants = op.get("/platform/").content.decode()
    assert "最初の管理者を登録" in tenants
    r = op.post("/platform/44203/first-admin/", {"username": "admin-beppu", "display_name": "別府 管理者",
                                                 "step": "confirm"})
    assert "自治体管理者" in r.content.decode() and not StaffUser.objects.filter(username="admin-beppu").exists()
    r = op.post("/platform/44203/first-admin/", {"username": "admin-beppu", "display_name": "別府 管理者",
                                                 "step": "commit"})
    assert r.status_code == 200 and "仮パスワード" in r.content.decode()
    u = StaffUser.objects.get(username="admin-beppu")
    beppu = Municipality.objects.get(code="44203")
    assert (u.role, u.municipality, u.must_change_password) == (Role.ADMIN, beppu, True)
    assert len(events(beppu, "staff.first_admin_created")) == 1
    # once there is an admin the operator cannot add more (the municipality manages its own staff)
    r = op.post("/platform/44203/first-admin/", {"username": "admin-beppu2", "step": "commit"})
    assert "既に管理者がいます" in r.content.decode()
    assert not StaffUser.objects.filter(username="admin-beppu2").exists()
    with pytest.raises(actions.StaffRuleError):
        actions.create_first_admin(staff["operator"], "t", beppu, username="admin-beppu3")
    # and a municipal admin cannot use the operator's screen
    assert admin_client(staff).get("/platform/44203/first-admin/").status_code == 403
    assert op.get("/platform/99999/first-admin/").status_code == 404


# ---------------------------------------------------------------- own password

def test_password_change_refuses_bad_input(staff):
    c = Client()
    c.force_login(staff["clerk_a"])
    r = c.get("/account/password/")
    assert r.status_code == 200 and "autofocus" in r.content.decode()
    cases = [({"old_password": "wrong", "new_password1": "kawa-no-nagare-7", "new_password2": "kawa-no-nagare-7"},
              "現在のパスワードが正しくありません"),
             ({"old_password": PASSWORD, "new_password1": "password123", "new_password2": "password123"},
              "よく使われるパスワード"),
             ({"old_password": PASSWORD, "new_password1": "kawa-no-nagare-7", "new_password2": "kawa-no-nagare-8"},
              "確認のパスワードが一致しません"),
             ({"old_password": PASSWORD, "new_password1": PASSWORD, "new_password2": PASSWORD},
              "現在と同じパスワードは使えません")]
    for data, message in cases:
        r = c.post("/account/password/", data)
        assert r.status_code == 200 and message in r.content.decode(), message
    assert StaffUser.objects.get(pk=staff["clerk_a"].pk).check_password(PASSWORD)
    assert not events(staff["clerk_a"].municipality, "staff.password_changed")


# ---------------------------------------------------------------- roles as data

def test_default_role_definitions_are_loaded(db):
    assert RoleDefinition.objects.count() == len(Role)
    assert perms_for_role(Role.CLERK) >= {Perm.VIEW_RESIDENTS, Perm.CHANGE_RESIDENTS, Perm.VIEW_INDIVIDUAL_NUMBER}
    assert Perm.MANAGE_STAFF in perms_for_role(Role.ADMIN) and Perm.MANAGE_STAFF not in perms_for_role(Role.CLERK)
    disaster = perms_for_role(Role.DISASTER)
    assert Perm.VIEW_RESIDENTS in disaster and Perm.VIEW_INDIVIDUAL_NUMBER not in disaster  # 個人番号 masked
    assert {Perm.DISASTER_RESPONSE, Perm.REGISTER_EVACUEES, Perm.CONFIRM_SAFETY,
            Perm.VIEW_VULNERABLE_PERSONS} <= disaster
    assert disaster != perms_for_role(Role.VIEWER)
    assert perms_for_role(Role.OPERATOR) == {Perm.MANAGE_TENANTS}


def test_has_perm_reads_the_definitions_and_sees_changes(staff):
    viewer = staff["viewer_a"]
    assert has_perm(viewer, Perm.VIEW_RESIDENTS) and not has_perm(viewer, Perm.VIEW_AUDIT)
    rd = RoleDefinition.objects.get(role=Role.VIEWER)
    rd.permissions.add(PermissionDefinition.objects.get(code=Perm.VIEW_AUDIT))
    assert has_perm(viewer, Perm.VIEW_AUDIT)  # the cache was invalidated by the change
    rd.permissions.remove(PermissionDefinition.objects.get(code=Perm.VIEW_RESIDENTS))
    assert not has_perm(viewer, Perm.VIEW_RESIDENTS)
    c = Client()
    c.force_login(viewer)
    assert c.get("/residents/").status_code == 403 and c.get("/audit/").status_code == 200
    # loading the defaults again never resets an edited definition
    ensure_default_roles()
    assert not has_perm(viewer, Perm.VIEW_RESIDENTS)


def test_inactive_users_have_no_permissions(staff):
    clerk = staff["clerk_a"]
    clerk.is_active = False
    assert not has_perm(clerk, Perm.VIEW_RESIDENTS)


@pytest.mark.django_db(transaction=True)
def test_two_admins_disabling_each_other_at_once_leave_one_admin(monkeypatch):
    """The 'last admin' check holds under concurrency: each action locks the municipality's active admins first,
    so the second waits and then sees a single admin (PostgreSQL; SQLite serialises writers anyway)."""
    import threading
    import time

    from django.db import connection, connections

    from jichitai.tenancy.actions import StaffRuleError

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need a server database (SQLite's in-memory test database serialises them)")
    pref = Prefecture.objects.create(code="44", name="大分県")
    m = Municipality.objects.create(code="44204", name="日田市", prefecture=pref)
    a, b = make_user("admin-x", Role.ADMIN, m), make_user("admin-y", Role.ADMIN, m)
    original = actions._event

    def slow_event(*args, **kwargs):
        time.sleep(0.4)  # hold the transaction open so that the two really overlap
        return original(*args, **kwargs)

    monkeypatch.setattr(actions, "_event", slow_event)
    barrier = threading.Barrier(2)
    outcomes = []

    def disable(actor, target):
        try:
            barrier.wait()
            actions.set_staff_active(actor, "test", target, False)
            outcomes.append("disabled")
        except StaffRuleError as e:
            outcomes.append(str(e))
        except Exception as e:  # noqa: BLE001 - reported below
            outcomes.append(repr(e))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=disable, args=(a, b)), threading.Thread(target=disable, args=(b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["disabled", "最後の管理者は利用停止にできません"], outcomes
    assert StaffUser.objects.filter(municipality=m, role=Role.ADMIN, is_active=True).count() == 1
