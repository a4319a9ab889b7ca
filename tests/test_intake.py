"""届出の受付 (item 3 of #10) and 審査・決裁: every 異動 records the 届出人, the 本人確認書類, a 受付番号 unique per
municipality and day, and the time — checked by the action itself, so the confirmation page refuses what the commit
refuses; with the municipality's setting on, a change waits as 決裁待ち and the register is untouched until a
second staff member approves it (re-validated then); a return keeps it out with a reason."""
import datetime as dt
import json
import threading

import pytest
from django.db import connection
from django.utils import timezone

from jichitai.residents import actions, config, queries
from jichitai.residents.actions import IntakeInput, RuleError
from jichitai.residents.models import Intake, IntakeStatus, Person, PersonHistory
from jichitai.tenancy.roles import Perm, Role, has_perm
from jichitai.tenancy.scope import tenant_scope

from conftest import INTAKE, audit_events, client_for, make_user, person_values

D = dt.date


def _move(env, p, actor=None, **kw):
    p = env.fresh(p)
    args = dict(expected_version=p.version, address="豆田町5番1号", change_date=D(2024, 4, 1),
                notification_date=D(2024, 4, 5), new_household_head=p)
    args.update(kw)
    return actions.register_move_within(actor or env.actor(), p, **args)


def _actor(user, m, intake=None, terminal="窓口1"):
    return actions.Actor(user=user, terminal=terminal, municipality=m, intake=intake or IntakeInput.in_person())


def _approval_on(m, admin):
    with tenant_scope(m):
        actions.set_approval_required(_actor(admin, m), True)


# ------------------------------------------------------------------------------------------------ 受付

def test_every_change_records_its_intake_in_history_and_audit(env):
    agent = IntakeInput(notifier_kind="agent", notifier_name="代理　一郎", notifier_address="福岡市中央区天神1番",
                        id_document="other", id_document_other="健康保険証")
    a = actions.Actor(user=env.clerk, terminal="窓口3", municipality=env.m, intake=agent)
    _move(env, env.wife, actor=a)
    h = PersonHistory.objects.filter(person=env.wife).order_by("-history_no").first()
    i = h.intake
    assert i is not None and i.status == IntakeStatus.REGISTERED and i.received_by == env.clerk
    assert (i.notifier_kind, i.notifier_name, i.notifier_address) == ("agent", "代理　一郎", "福岡市中央区天神1番")
    assert i.id_document_label == "その他（健康保険証）" and i.received_on == timezone.localdate(i.received_at)
    assert i.person_ids == [env.wife.pk]
    ev = audit_events(env.m, action="resident.change.move_within")[-1]
    detail = json.loads(ev.detail)
    assert detail["intake"]["receipt_no"] == i.receipt_label
    assert detail["intake"]["notifier"] == "agent" and detail["intake"]["id_document"] == "other"
    assert "福岡市中央区天神1番" not in ev.detail  # the agent's address stays in the Intake row


def test_receipt_numbers_count_per_municipality_and_day(env, town_b, staff):
    for p in (env.wife, env.child):
        _move(env, p)
    nos = list(Intake.objects.order_by("id").values_list("received_on", "receipt_no"))
    assert [n for _, n in nos[-2:]] == [nos[-2][1], nos[-2][1] + 1]
    day = nos[-1][0]
    assert actions.next_receipt_no(env.m, day + dt.timedelta(days=1)) == 1  # a new day starts at 1
    head_b, _, _ = town_b.family()
    with tenant_scope(town_b.m):
        b_nos = list(Intake.objects.filter(received_on=day).order_by("receipt_no").values_list("receipt_no", flat=True))
    assert b_nos[0] == 1  # another municipality has its own series


def test_a_receipt_number_is_never_given_twice(env):
    with pytest.raises(Exception):
        from django.db import transaction
        with transaction.atomic():
            i = Intake.objects.order_by("-id").first()
            Intake.objects.create(received_on=i.received_on, receipt_no=i.receipt_no, received_at=i.received_at,
                                  received_by=env.clerk, change_kind="death", notifier_kind="self",
                                  id_document="passport", status=IntakeStatus.REGISTERED)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_concurrent_receipt_numbers_are_distinct(munis):
    m = munis[0]
    got, errors = [], []
    day = D(2030, 1, 1)

    def take():
        from django.db import connection as c, transaction
        try:
            with tenant_scope(m), transaction.atomic():
                got.append(actions.next_receipt_no(m, day))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(got) == list(range(1, 9))


@pytest.mark.parametrize("intake, field, message", [
    (None, "notifier_kind", "届出人を選んでください"),
    (IntakeInput(notifier_kind="self"), "id_document", "本人確認書類を選んでください"),
    (IntakeInput(notifier_kind="nobody", id_document="passport"), "notifier_kind", "届出人を選んでください"),
    (IntakeInput(notifier_kind="agent", id_document="passport"), "notifier_name", "代理人の氏名"),
    (IntakeInput(notifier_kind="agent", notifier_name="代理　一郎", id_document="passport"), "notifier_address",
     "代理人の住所"),
    (IntakeInput(notifier_kind="head", id_document="passport"), "notifier_name", "氏名を入力"),
    (IntakeInput(notifier_kind="self", id_document="other"), "id_document_other", "名称を入力"),
    (IntakeInput(notifier_kind="self", id_document="none"), "id_document", "本人確認書類を選んでください"),
    (IntakeInput(notifier_kind="agent", notifier_name="あ" * 61, notifier_address="x", id_document="passport"),
     "notifier_name", "60文字以内"),
])
def test_bad_intake_is_refused_by_confirmation_and_commit_alike(env, intake, field, message):
    a = actions.Actor(user=env.clerk, terminal="t", municipality=env.m, intake=intake)
    before = (Intake.objects.count(), PersonHistory.objects.count())
    for check_only in (True, False):
        with pytest.raises(RuleError) as e:
            _move(env, env.wife, actor=a, check_only=check_only)
        assert any(message in m for m in e.value.errors[field]), e.value.errors
    assert (Intake.objects.count(), PersonHistory.objects.count()) == before


def test_ex_officio_changes_need_no_notifier(env):
    a = actions.Actor(user=env.clerk, terminal="t", municipality=env.m)  # no intake typed
    w = env.fresh(env.wife)
    actions.remove_ex_officio(a, w, expected_version=w.version, change_date=D(2024, 5, 1), note="居住実態なし")
    i = PersonHistory.objects.filter(person=w).order_by("-history_no").first().intake
    assert i.notifier_kind == "ex_officio" and i.id_document == "none"


def test_the_change_form_starts_with_the_notifier_and_shows_it_on_confirmation_and_history(env, staff):
    c = client_for(staff["clerk_a"])
    wife = env.fresh(env.wife)
    url = f"/residents/{wife.pk}/change/move_within/"
    body = c.get(url).content.decode()
    assert body.index('name="notifier_kind"') < body.index('name="address"')
    import re
    assert re.findall(r'<(?:input|select)[^>]*\bautofocus\b[^>]*>', body)[0].startswith('<select name="notifier_kind"')
    data = {"notifier_kind": "agent", "notifier_name": "代理　一郎", "notifier_address": "福岡市中央区天神1番",
            "id_document": "driving_licence", "expected_version": wife.version, "address": "豆田町5番1号",
            "change_date": "2024-04-01", "notification_date": "2024-04-05", "household_mode": "new",
            "new_household_head": wife.pk}
    n_intakes = Intake.objects.count()
    r = c.post(url, {**data, "notifier_address": "", "step": "confirm"})
    assert r.status_code == 422 and "代理人の住所を入力してください" in r.content.decode()
    r = c.post(url, {**data, "step": "confirm"})
    body = r.content.decode()
    assert r.status_code == 200 and "代理人" in body and "運転免許証" in body and "代理　一郎" in body
    assert Intake.objects.count() == n_intakes  # the confirmation writes no 受付
    r = c.post(url, {**data, "step": "commit"})
    assert r.status_code == 302
    body = c.get(f"/residents/{wife.pk}/").content.decode()
    assert "受付番号" in body and "代理人（代理　一郎）" in body and "運転免許証" in body


# ------------------------------------------------------------------------------------------------ 決裁

def _certificate_does_not_show(env, staff, person, text):
    from jichitai.common.fonts import font_path

    if font_path("ipamjm.ttf") is None or font_path("ipaexm.ttf") is None:
        return  # no fonts (make fonts): the PDF cannot be rendered here; the rows above are what it reads
    import io

    from pypdf import PdfReader

    from jichitai.certificates import actions as ca
    from jichitai.certificates.actions import CertificateRequest
    from jichitai.certificates.models import Kind, RequesterKind

    from conftest import certificate_signer
    certificate_signer(env.m, staff["admin_a"])
    out = ca.issue_certificate(staff["clerk_a"], CertificateRequest(
        kind=Kind.RESIDENT_COPY, person_ids=[person.pk], requester_kind=RequesterKind.SELF))
    pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(out.pdf)).pages)
    assert "三本松" in pdf_text.replace(" ", "") and text not in pdf_text.replace(" ", "")


@pytest.fixture
def approval(env, staff):
    _approval_on(env.m, staff["admin_a"])
    return staff


def test_approval_is_off_by_default_and_admins_have_the_right(env, staff):
    assert config.approval_required(env.m) is False
    assert has_perm(staff["admin_a"], Perm.APPROVE_CHANGES) and not has_perm(staff["clerk_a"], Perm.APPROVE_CHANGES)
    with pytest.raises(RuleError):
        actions.set_approval_required(_actor(staff["clerk_a"], env.m), True)
    actions.set_approval_required(_actor(staff["admin_a"], env.m), True)
    assert config.approval_required(env.m) is True
    assert json.loads(audit_events(env.m, action="resident.settings.approval_required")[-1].detail) == {
        "old": False, "new": True}


def test_a_held_change_leaves_the_register_untouched_until_approved(env, approval, staff):
    wife = env.fresh(env.wife)
    before = (wife.version, wife.address, PersonHistory.objects.filter(person=wife).count())
    held = _move(env, wife)
    assert isinstance(held, Intake) and held.status == IntakeStatus.PENDING
    w = env.fresh(wife)
    assert (w.version, w.address, PersonHistory.objects.filter(person=w).count()) == before
    # never on search, the person page, a certificate, the export or the feed: all read the register
    c = client_for(staff["clerk_a"])
    assert "豆田町5番1号" not in c.get(f"/residents/{wife.pk}/").content.decode()
    assert "豆田町5番1号" not in c.get("/residents/", {"address": "三本松"}).content.decode()
    assert "花子" not in c.get("/residents/", {"address": "豆田町"}).content.decode()
    # the export and the change feed read the history rows: no snapshot holds the held address
    assert "豆田町5番1号" not in json.dumps([h.snapshot for h in PersonHistory.objects.all()], ensure_ascii=False)
    _certificate_does_not_show(env, staff, w, "豆田町5番1号")
    assert json.loads(audit_events(env.m, action="resident.intake.pending")[-1].detail)["receipt_no"] == \
        held.receipt_label
    # the receiving clerk sees it waiting; the same staff can never approve it
    assert "1件" in c.get("/intakes/").content.decode()
    with pytest.raises(RuleError) as e:
        actions.approve_change(_actor(staff["clerk_a"], env.m), held)
    admin_self = _actor(staff["admin_a"], env.m)
    other = _move(env, env.child, actor=admin_self)  # an admin's own change waits too ...
    with pytest.raises(RuleError) as e:
        actions.approve_change(admin_self, other)  # ... and he cannot approve it himself
    assert "自分が受け付けた届出" in str(e.value)
    # a second staff member with the right approves: now it is registered, with both names
    person = actions.approve_change(_actor(staff["admin_a"], env.m), held)
    w = env.fresh(wife)
    assert w.address == "豆田町5番1号" and w.version == before[0] + 1
    h = PersonHistory.objects.filter(person=w).order_by("-history_no").first()
    assert h.intake_id == held.pk and h.intake.decided_by == staff["admin_a"]
    held.refresh_from_db()
    assert held.status == IntakeStatus.APPROVED and held.person_ids == [wife.pk]
    detail = json.loads(audit_events(env.m, action="resident.change.move_within")[-1].detail)
    assert detail["intake"]["approved_by"] == "admin-a" and detail["intake"]["received_by"] == "clerk-a"
    with pytest.raises(RuleError):
        actions.approve_change(_actor(staff["admin_a"], env.m), held)  # once only
    assert person.pk == wife.pk


def test_approval_revalidates_against_the_current_register(env, approval, staff, munis):
    admin2 = make_user("admin-a2", Role.ADMIN, munis[0])
    held = _move(env, env.wife)
    # someone changes her in between (an admin's change is held too; approved by another admin)
    w = env.fresh(env.wife)
    other = actions.register_death(_actor(admin2, env.m), w, expected_version=w.version, death_date=D(2024, 3, 1),
                                   notification_date=D(2024, 3, 2))
    actions.approve_change(_actor(staff["admin_a"], env.m), other)
    before = PersonHistory.objects.count()
    with pytest.raises(actions.ConflictError) as e:
        actions.approve_change(_actor(admin2, env.m), held)
    assert "決裁できません" in str(e.value)
    held.refresh_from_db()
    assert held.status == IntakeStatus.PENDING and PersonHistory.objects.count() == before
    actions.return_change(_actor(admin2, env.m), held, reason="死亡の届出があったため")
    held.refresh_from_db()
    assert held.status == IntakeStatus.RETURNED and held.return_reason == "死亡の届出があったため"


def test_return_needs_a_reason_and_the_clerk_sees_it(env, approval, staff):
    held = _move(env, env.wife)
    with pytest.raises(RuleError) as e:
        actions.return_change(_actor(staff["admin_a"], env.m), held, reason=" ")
    assert "reason" in e.value.errors
    with pytest.raises(RuleError):
        actions.return_change(_actor(staff["admin_a"], env.m), held, reason="x" * 201)
    actions.return_change(_actor(staff["admin_a"], env.m), held, reason="本人確認書類の記載と不一致")
    with pytest.raises(RuleError):
        actions.approve_change(_actor(staff["admin_a"], env.m), held)  # a returned change is never registered
    assert env.fresh(env.wife).address == "三本松二丁目3番5号"
    body = client_for(staff["clerk_a"]).get("/intakes/").content.decode()
    assert "本人確認書類の記載と不一致" in body and "差戻 1" in body
    ev = audit_events(env.m, action="resident.intake.returned")[-1]
    assert json.loads(ev.detail)["reason"] == "本人確認書類の記載と不一致"


def test_the_approval_screens(env, approval, staff):
    clerk, admin = client_for(staff["clerk_a"]), client_for(staff["admin_a"])
    wife = env.fresh(env.wife)
    url = f"/residents/{wife.pk}/change/move_within/"
    data = {**INTAKE, "expected_version": wife.version, "address": "豆田町5番1号", "change_date": "2024-04-01",
            "notification_date": "2024-04-05", "household_mode": "new", "new_household_head": wife.pk}
    assert "決裁待ち" in clerk.post(url, {**data, "step": "confirm"}).content.decode()
    r = clerk.post(url, {**data, "step": "commit"})
    held = Intake.objects.get(status=IntakeStatus.PENDING)
    assert r.status_code == 302 and r["Location"] == f"/intakes/{held.pk}/"
    assert env.fresh(wife).address == "三本松二丁目3番5号"
    nav = admin.get("/").content.decode()
    assert '決裁待ち <span class="count">1</span>' in nav
    assert "決裁待ち" not in client_for(staff["viewer_a"]).get("/").content.decode().split("</nav>")[0]
    page = admin.get(f"/intakes/{held.pk}/").content.decode()
    assert "豆田町5番1号" in page and "この内容で登録できます" in page and 'value="approve"' in page
    clerk_page = clerk.get(f"/intakes/{held.pk}/").content.decode()
    assert 'value="approve"' not in clerk_page
    assert client_for(staff["viewer_a"]).get(f"/intakes/{held.pk}/").status_code == 403
    r = admin.post(f"/intakes/{held.pk}/", {"decision": "approve"})
    assert r.status_code == 302 and env.fresh(wife).address == "豆田町5番1号"


def test_a_held_protected_persons_new_address_is_withheld_from_an_approver_without_the_right(env, approval, staff,
                                                                                           munis):
    w = env.fresh(env.wife)
    actions.correct_person(_actor(staff["admin_a"], env.m), w, expected_version=w.version,
                           changes={"dv_protected": True}, change_date=D(2024, 3, 1), note="支援措置")
    actions.approve_change(_actor(make_user("admin-a3", Role.ADMIN, munis[0], can_view_dv_protected=True), env.m),
                           Intake.objects.get(status=IntakeStatus.PENDING))
    held = _move(env, env.wife)
    approver = make_user("admin-nodv", Role.ADMIN, munis[0])
    page = client_for(approver).get(f"/intakes/{held.pk}/").content.decode()
    assert "豆田町5番1号" not in page and "支援措置のため表示しません" in page
    page = client_for(staff["admin_a"]).get(f"/intakes/{held.pk}/").content.decode()
    assert "豆田町5番1号" in page


# ------------------------------------------------------------------------------------------------ 複数転出

def test_several_members_move_out_and_the_head_stays(env):
    w, c = env.fresh(env.wife), env.fresh(env.child)
    actions.register_move_out(env.actor(), w, expected_version=w.version, destination="福岡県福岡市中央区天神1番",
                              planned_date=D(2024, 5, 1), notification_date=D(2024, 4, 20), companions=[c])
    w, c, h = env.fresh(w), env.fresh(c), env.fresh(env.head)
    assert (w.status, c.status, h.status) == ("removed", "removed", "resident")
    assert c.move_out_destination == w.move_out_destination == "福岡県福岡市中央区天神1番" and h.household.head_id == h.pk
    assert PersonHistory.objects.filter(person=c).order_by("-history_no").first().intake_id == \
        PersonHistory.objects.filter(person=w).order_by("-history_no").first().intake_id


def test_the_head_moving_out_with_members_names_the_new_head_among_those_who_stay(env):
    h, w = env.fresh(env.head), env.fresh(env.wife)
    go = dict(expected_version=h.version, destination="福岡県福岡市中央区天神1番", planned_date=D(2024, 5, 1),
              notification_date=D(2024, 4, 20), companions=[w])
    n = PersonHistory.objects.count()
    with pytest.raises(RuleError) as e:
        actions.register_move_out(env.actor(), h, **go)
    assert "new_head" in e.value.errors
    with pytest.raises(RuleError) as e:
        actions.register_move_out(env.actor(), h, new_head=w, **go)  # she leaves too
    assert "残る住民" in e.value.errors["new_head"][0]
    stranger = actions.register_move_in(env.actor(), values=person_values(family_name="他人", family_name_kana="タニン"),
                                        change_date=D(2020, 4, 1), notification_date=D(2020, 4, 1))
    with pytest.raises(RuleError) as e:
        actions.register_move_out(env.actor(), h, **{**go, "companions": [w, stranger]})
    assert "companions" in e.value.errors
    assert PersonHistory.objects.count() == n + 1  # only the stranger's 転入
    child = env.fresh(env.child)
    actions.register_move_out(env.actor(), h, new_head=child, **go)
    child = env.fresh(child)
    assert child.is_head and child.relationship == "世帯主" and child.household.head_id == child.pk
    assert not env.fresh(h).is_head


def test_the_whole_household_moving_out_ends_it(env):
    h = env.fresh(env.head)
    actions.register_move_out(env.actor(), h, expected_version=h.version, destination="福岡県福岡市中央区天神1番",
                              planned_date=D(2024, 5, 1), notification_date=D(2024, 4, 20),
                              companions=[env.fresh(env.wife), env.fresh(env.child)])
    assert not env.fresh(h).household.is_active
    assert Person.objects.filter(household=h.household, status="resident").count() == 0


def test_several_members_move_out_through_the_form(env, staff):
    c = client_for(staff["clerk_a"])
    h = env.fresh(env.head)
    url = f"/residents/{h.pk}/change/move_out_planned/"
    body = c.get(url).content.decode()
    assert 'name="companions"' in body and 'name="new_head"' in body
    data = {**INTAKE, "expected_version": h.version, "destination": "福岡県福岡市中央区天神1番",
            "planned_date": "2024-05-01", "notification_date": "2024-04-20", "companions": [env.wife.pk]}
    r = c.post(url, {**data, "step": "confirm"})
    assert r.status_code == 422 and "新しい世帯主を指定してください" in r.content.decode()
    r = c.post(url, {**data, "new_head": env.child.pk, "step": "confirm"})
    assert r.status_code == 200 and "山田　花子" in r.content.decode()
    assert c.post(url, {**data, "new_head": env.child.pk, "step": "commit"}).status_code == 302
    assert env.fresh(env.wife).status == "removed" and env.fresh(env.child).is_head


def test_a_held_move_in_never_shows_the_individual_number_typed(env, approval, staff):
    from test_one_validation import GOOD_NO

    held = actions.register_move_in(env.actor(), values=person_values(family_name="新規", family_name_kana="シンキ",
                                                                      individual_number=GOOD_NO),
                                    change_date=D(2024, 4, 1), notification_date=D(2024, 4, 2))
    page = client_for(staff["admin_a"]).get(f"/intakes/{held.pk}/").content.decode()
    assert GOOD_NO not in page and "個人番号: （入力あり）" in page
    assert GOOD_NO not in audit_events(env.m, action="resident.intake.pending")[-1].detail


def test_a_held_change_that_sets_protection_withholds_its_addresses_from_an_approver_without_the_right(
        env, approval, staff, munis):
    held = actions.register_move_in(env.actor(), values=person_values(
        family_name="避難", family_name_kana="ヒナン", address="豆田町7番9号", dv_protected=True,
        previous_address="福岡県福岡市中央区天神一丁目1番1号"),
        change_date=D(2024, 4, 1), notification_date=D(2024, 4, 3))
    approver = make_user("admin-nodv2", Role.ADMIN, munis[0])
    page = client_for(approver).get(f"/intakes/{held.pk}/").content.decode()
    assert "豆田町7番9号" not in page and "天神一丁目" not in page and "支援措置のため表示しません" in page
    page = client_for(make_user("admin-dv2", Role.ADMIN, munis[0], can_view_dv_protected=True)).get(
        f"/intakes/{held.pk}/").content.decode()
    assert "豆田町7番9号" in page and "天神一丁目" in page
