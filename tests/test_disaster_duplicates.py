"""Duplicates across shelters merged into one person (#12 item 3): the same person registered at two shelters (or at
the desk and in a CSV) is one person — merged automatically when both registrations are linked to the same resident,
otherwise listed as 重複候補 for a clerk to merge or to set apart. Registrations and their check-in/out history are
never deleted; occupancy, lists, the inquiry answer and the PFIF export count the person once, where they checked in
last."""
import datetime as dt
import json

import pytest
from conftest import audit_events, client_for
from django.core.exceptions import ValidationError
from django.utils import timezone

from jichitai.disaster import actions, queries
from jichitai.disaster.models import Evacuee, EvacueeMovement
from jichitai.privacy.policy import WITHHELD, for_staff
from jichitai.residents import actions as ractions
from jichitai.residents.models import Person
from jichitai.tenancy.scope import tenant_scope

WHEN = timezone.now() - dt.timedelta(hours=3)


def shelter(user, code, name, day=100, night=100):
    s = actions.save_shelter(user, {"code": code, "name": name, "kind": "designated", "address": "三本松二丁目1番1号",
                                    "capacity_day": day, "capacity_night": night})
    actions.set_shelter_open(user, s.pk, True)
    return s


@pytest.fixture
def d(town_a, staff):
    head, wife, child = town_a.family()
    u = staff["disaster_a"]
    with tenant_scope(town_a.m):
        act = actions.declare_disaster(u, name="令和8年台風第10号", kind="storm", occurred_at=WHEN)
        s1, s2 = shelter(u, "S01", "三本松小学校体育館"), shelter(u, "S02", "豆田公民館")
        yield type("D", (), {"m": town_a.m, "u": u, "s1": s1, "s2": s2, "head": head, "wife": wife, "child": child,
                             "act": act, "town": town_a})


def taro(**kw):
    r = {"full_name": "山田太郎", "kana": "ヤマダタロウ", "birth_text": "S50.4.1", "sex": "男",
         "address": "三本松二丁目3番5号", "place": "S01"}
    r.update(kw)
    return r


def visitor(**kw):  # not a resident: 該当なし, grouped by name and birth date only
    r = {"full_name": "佐藤旅人", "kana": "サトウタビト", "birth_text": "1990-02-03", "sex": "男", "address": "福岡市",
         "place": "S01"}
    r.update(kw)
    return r


def one(rows):
    [e] = rows
    return e


def occ():
    return {s.code: (s.day_count, s.night_count) for s in queries.occupancy()}


def test_the_same_resident_registered_at_two_shelters_is_merged_automatically_and_counted_once(d):
    a = one(actions.register_evacuees(d.u, [taro()])[0])
    assert occ() == {"S01": (1, 1), "S02": (0, 0)}
    b = one(actions.register_evacuees(d.u, [taro(full_name="山田　太郎", place="S02")])[0])  # later, at S02
    a.refresh_from_db(), b.refresh_from_db()
    assert a.person_id == b.person_id == d.head.pk
    assert b.merged_into_id == a.pk and b.merged_auto and a.merged_into_id is None
    assert a.duplicate_group and a.duplicate_group == b.duplicate_group
    # both registrations and their movements are kept; the person is counted once, where he checked in last
    assert Evacuee.objects.count() == 2 and EvacueeMovement.objects.count() == 2
    assert occ() == {"S01": (0, 0), "S02": (1, 1)}
    rows, total = queries.evacuee_list(for_staff(d.u))
    assert total == 1 and [r["id"] for r in rows] == [b.pk]
    rows, total = queries.evacuee_list(for_staff(d.u), shelter_id=d.s1.pk)
    assert total == 0 and rows == []
    assert queries.safety_board(for_staff(d.u))[1]["alive"] == 1  # one resident seen alive, not two
    assert queries.confirmation_progress()[-1][1] == 1
    # he moves back via his first registration: that is now where he is
    actions.move_evacuee(d.u, a.pk, "check_out")
    actions.move_evacuee(d.u, a.pk, "check_in", shelter_id=d.s1.pk)
    assert occ() == {"S01": (1, 1), "S02": (0, 0)}
    # audited as automatic, in one event for the registration
    [ev] = audit_events(d.m, action="disaster.evacuee_auto_merge")
    assert json.loads(ev.detail) == {"auto": True, "merges": [{"primary": a.pk, "merged": [b.pk],
                                                                "person": d.head.pk}]}
    pending, merged = queries.duplicate_groups(d.act.pk, for_staff(d.u))
    assert pending == [] and [[r["id"] for r in g["rows"]] for g in merged] == [[a.pk, b.pk]]


def test_a_bulk_csv_naming_one_resident_at_two_shelters_is_merged_after_matching(d):
    csv = ("氏名,フリガナ,生年月日,性別,住所,居所\n"
           "山田太郎,ヤマダタロウ,S50.4.1,男,三本松二丁目3番5号,S01\n"
           "山田花子,ヤマダハナコ,1977-08-15,女,三本松二丁目3番5号,S01\n"
           "山田太郎,ヤマダ タロウ,1975-04-01,男,三本松二丁目3番5号,S02\n")
    created, counts = actions.import_evacuees_csv(d.u, csv.encode())
    assert counts["registered"] == 3 and counts["auto_linked"] == 3
    t1, h, t2 = created
    t2.refresh_from_db()
    assert t2.merged_into_id == t1.pk and t2.merged_auto
    assert Evacuee.objects.get(pk=h.pk).merged_into_id is None
    assert occ() == {"S01": (1, 1), "S02": (1, 1)}  # 花子 at S01, 太郎 once, at his last registration (S02)
    assert queries.evacuee_list(for_staff(d.u))[1] == 2
    assert len(audit_events(d.m, action="disaster.evacuee_auto_merge")) == 1


def test_unconfirmed_duplicates_are_candidates_for_a_clerk_to_merge_or_set_apart(d):
    v1 = one(actions.register_evacuees(d.u, [visitor()])[0])
    v2 = one(actions.register_evacuees(d.u, [visitor(full_name="佐藤 旅人", place="S02")])[0])
    other = one(actions.register_evacuees(d.u, [visitor(full_name="鈴木次郎", kana="スズキジロウ")])[0])
    v1.refresh_from_db(), v2.refresh_from_db(), other.refresh_from_db()
    assert v1.match_state == v2.match_state == "none"
    assert v2.merged_into_id is None and v1.duplicate_group == v2.duplicate_group != ""  # not merged: a candidate
    assert other.duplicate_group == ""
    assert occ() == {"S01": (2, 2), "S02": (1, 1)}
    pending, merged = queries.duplicate_groups(d.act.pk, for_staff(d.u))
    [g] = pending
    assert [(r["id"], r["shelter"]) for r in g["rows"]] == [(v1.pk, "三本松小学校体育館"), (v2.pk, "豆田公民館")]
    assert not g["conflict"] and merged == []
    # a clerk merges them: one person, at S02 (the latest registration); one audit event
    p = actions.merge_evacuees(d.u, [v2.pk, v1.pk])
    assert p.pk == v1.pk and Evacuee.objects.get(pk=v2.pk).merged_into_id == v1.pk
    assert occ() == {"S01": (1, 1), "S02": (1, 1)}
    [ev] = audit_events(d.m, action="disaster.evacuee_merge")
    assert json.loads(ev.detail)["merged"] == [v2.pk] and json.loads(ev.detail)["auto"] is False
    assert queries.duplicate_groups(d.act.pk, for_staff(d.u))[0] == []
    # merging again, or merging into the merged registration, is refused with the reason
    with pytest.raises(ValidationError, match="すでに別の登録.*統合済み"):
        actions.merge_evacuees(d.u, [v2.pk, other.pk])
    # undo by a person: two people again, back among the candidates
    actions.unmerge_evacuee(d.u, v2.pk)
    assert occ() == {"S01": (2, 2), "S02": (1, 1)}
    assert len(queries.duplicate_groups(d.act.pk, for_staff(d.u))[0]) == 1
    with pytest.raises(ValidationError, match="統合されていません"):
        actions.unmerge_evacuee(d.u, v2.pk)
    # not the same person: out of the group, and not grouped again by name and birth date
    actions.dismiss_duplicate(d.u, v2.pk)
    assert queries.duplicate_groups(d.act.pk, for_staff(d.u))[0] == []
    with pytest.raises(ValidationError, match="重複候補ではありません"):
        actions.dismiss_duplicate(d.u, v2.pk)
    v3 = one(actions.register_evacuees(d.u, [visitor(place="S02")])[0])
    v3.refresh_from_db(), v2.refresh_from_db()
    [g] = queries.duplicate_groups(d.act.pk, for_staff(d.u))[0]
    assert {r["id"] for r in g["rows"]} == {v1.pk, v3.pk} and v2.duplicate_group == ""
    assert [e.action for e in audit_events(d.m, action__in=[
        "disaster.evacuee_merge", "disaster.evacuee_unmerge", "disaster.evacuee_not_duplicate"])] == [
        "disaster.evacuee_merge", "disaster.evacuee_unmerge", "disaster.evacuee_not_duplicate"]


def test_merging_is_refused_with_clear_messages(d, town_b, staff):
    h = one(actions.register_evacuees(d.u, [taro()])[0])
    w = one(actions.register_evacuees(d.u, [taro(full_name="山田花子", kana="ヤマダハナコ", birth_text="1977-08-15",
                                                  sex="女")])[0])
    v = one(actions.register_evacuees(d.u, [visitor()])[0])
    assert Evacuee.objects.get(pk=w.pk).person_id == d.wife.pk
    with pytest.raises(ValidationError, match="別々の住民と照合済みの登録は統合できません"):
        actions.merge_evacuees(d.u, [h.pk, w.pk])
    with pytest.raises(ValidationError, match="自分自身に統合"):
        actions.merge_evacuees(d.u, [v.pk, v.pk])
    with pytest.raises(ValidationError, match="2件以上"):
        actions.merge_evacuees(d.u, [v.pk])
    with pytest.raises(ValidationError, match="見つかりません"):
        actions.merge_evacuees(d.u, [v.pk, 999999])
    # another municipality's registration is not found (the scoped manager)
    with tenant_scope(town_b.m):
        ub = staff["admin_b"]
        actions.declare_disaster(ub, name="綾の豪雨", kind="flood", occurred_at=WHEN)
        shelter(ub, "B1", "綾小学校")
        vb = one(actions.register_evacuees(ub, [visitor(place="B1")])[0])
    with pytest.raises(ValidationError, match="見つかりません"):
        actions.merge_evacuees(d.u, [v.pk, vb.pk])
    # another disaster
    actions.end_disaster(d.u, d.act.pk)
    actions.declare_disaster(d.u, name="令和8年大雨", kind="flood", occurred_at=WHEN)
    v2 = one(actions.register_evacuees(d.u, [visitor()])[0])
    with pytest.raises(ValidationError, match="別の災害の登録は統合できません"):
        actions.merge_evacuees(d.u, [v.pk, v2.pk])
    assert Evacuee.objects.filter(merged_into__isnull=False).count() == 0
    assert audit_events(d.m, action="disaster.evacuee_merge") == []


def test_the_primary_is_the_linked_registration_and_a_conflicting_link_is_refused_later(d):
    v = one(actions.register_evacuees(d.u, [taro(full_name="山田太朗", kana="", birth_text="")])[0])  # typo
    h = one(actions.register_evacuees(d.u, [taro(place="S02")])[0])
    assert Evacuee.objects.get(pk=h.pk).match_state == "linked"
    p = actions.merge_evacuees(d.u, [v.pk, h.pk])
    assert p.pk == h.pk and Evacuee.objects.get(pk=v.pk).merged_into_id == h.pk
    assert queries.review_queue().filter(pk=v.pk).count() == 0  # the merged registration is not asked about
    # the merged registration cannot now be linked to another resident
    e = Evacuee.objects.get(pk=v.pk)
    e.match_candidates = [{"person_id": d.wife.pk}]
    e.save()
    with pytest.raises(ValidationError, match="別の住民と照合済み"):
        actions.confirm_match(d.u, v.pk, d.wife.pk)
    # the primary cannot be unmerged (the merged side is)
    with pytest.raises(ValidationError, match="統合先です"):
        actions.unmerge_evacuee(d.u, h.pk)


def test_pfif_export_and_inquiry_answer_emit_a_merged_person_once(d):
    v1 = one(actions.register_evacuees(d.u, [visitor(consent_public="はい", consent_family="はい")])[0])
    v2 = one(actions.register_evacuees(d.u, [visitor(place="S02", consent_public="はい", consent_family="はい")])[0])
    actions.add_safety_note(d.u, evacuee_id=v1.pk, status="believed_alive", text="三本松で無事")
    actions.add_safety_note(d.u, evacuee_id=v2.pk, status="is_note_author", text="本人より")
    assert [r["full_name"] for r in queries.pfif_export_rows(d.m)] == ["佐藤旅人", "佐藤旅人"]  # before: two
    assert len(queries.answer_inquiry("佐藤旅人", "family")) == 2
    mark = timezone.now()
    actions.merge_evacuees(d.u, [v1.pk, v2.pk])
    [r] = queries.pfif_export_rows(d.m)
    assert r["person_record_id"].endswith(f"/evacuee.{v1.pk}")
    assert r["description"] == "避難先: 豆田公民館"  # where he is now
    assert sorted(n["text"] for n in r["notes"]) == ["三本松で無事", "本人より"]
    [inc] = queries.pfif_export_rows(d.m, min_entry_date=mark)  # the merge changed the person record
    assert inc["person_record_id"] == r["person_record_id"]
    assert {n.text for n in queries.notes_for(evacuee_id=v2.pk)} == {"三本松で無事", "本人より"}
    [ans] = queries.answer_inquiry("佐藤旅人", "family")
    assert "豆田公民館" in ans["answer"]
    # consent is the person's on every registration: one refusal keeps him out of the export
    actions.set_consent(d.u, v2.pk, family=True, acquaintance=False, public=False)
    assert queries.pfif_export_rows(d.m) == []


def test_duplicates_screen_merge_and_not_the_same_buttons(d, staff):
    v1 = one(actions.register_evacuees(d.u, [visitor()])[0])
    v2 = one(actions.register_evacuees(d.u, [visitor(place="S02")])[0])
    c = client_for(d.u)
    r = c.get("/disaster/duplicates/")
    body = r.content.decode()
    assert r.status_code == 200 and "重複候補" in body and "豆田公民館" in body and body.count("佐藤旅人") >= 2
    assert f"/disaster/{d.act.pk}/duplicates/" == c.get(f"/disaster/{d.act.pk}/duplicates/").wsgi_request.path
    assert c.get("/disaster/999999/duplicates/").status_code == 404
    r = c.post("/disaster/duplicates/merge/", {"ids": [v1.pk, v2.pk], "next": "/disaster/duplicates/"})
    assert r.status_code == 302 and Evacuee.objects.get(pk=v2.pk).merged_into_id == v1.pk
    body = c.get(f"/disaster/evacuees/{v2.pk}/").content.decode()
    assert "同一人物として統合済み" in body and f"/disaster/evacuees/{v1.pk}/" in body
    body = c.get(f"/disaster/evacuees/{v1.pk}/").content.decode()
    assert "同一人物の他の登録" in body and "豆田公民館" in body
    assert "統合済み（1人）" in c.get("/disaster/duplicates/").content.decode()
    r = c.post(f"/disaster/evacuees/{v2.pk}/unmerge/")
    assert r.status_code == 302 and Evacuee.objects.get(pk=v2.pk).merged_into_id is None
    r = c.post(f"/disaster/evacuees/{v2.pk}/not-duplicate/", {"next": "/disaster/duplicates/"})
    assert r.status_code == 302 and Evacuee.objects.get(pk=v2.pk).duplicate_dismissed
    r = c.post("/disaster/duplicates/merge/", {"ids": [v1.pk]}, follow=True)
    assert "2件以上" in r.content.decode()
    assert len(audit_events(d.m, action="disaster.duplicates_view")) == 4


def test_a_protected_persons_shelters_are_withheld_on_the_duplicates_screen(d, staff):
    p = Person.objects.get(pk=d.wife.pk)
    ractions.correct_person(d.town.actor(), p, expected_version=p.version, changes={"dv_protected": True},
                            change_date=dt.date(2024, 1, 10), note="支援措置の申出")
    w = dict(full_name="山田花子", kana="ヤマダハナコ", birth_text="1977-08-15", sex="女")
    actions.register_evacuees(d.u, [taro(**w)])
    actions.register_evacuees(d.u, [taro(place="S02", **w)])
    [g] = queries.duplicate_groups(d.act.pk, for_staff(d.u))[0]  # protected: never 自動確定, so never auto-merged
    assert [r["shelter"] for r in g["rows"]] == [WITHHELD, WITHHELD]
    body = client_for(d.u).get("/disaster/duplicates/").content.decode()
    assert "豆田公民館" not in body and "三本松小学校体育館" not in body
    [g] = queries.duplicate_groups(d.act.pk, for_staff(staff["admin_a"]))[0]
    assert [r["shelter"] for r in g["rows"]] == ["三本松小学校体育館", "豆田公民館"]


def test_duplicate_audit_codes_have_labels():
    for code in ("disaster.evacuee_merge", "disaster.evacuee_auto_merge", "disaster.evacuee_unmerge",
                 "disaster.evacuee_not_duplicate", "disaster.duplicates_view"):
        assert actions.AUDIT_LABELS[code]


def test_without_a_linked_registration_the_primary_is_the_one_waiting_for_review(d):
    """A visitor-like registration (該当なし) merged with a 要確認 one: the 要確認 registration is the primary, so the
    person stays in the review queue and a clerk can still confirm the match."""
    n = one(actions.register_evacuees(d.u, [visitor()])[0])
    r = one(actions.register_evacuees(d.u, [taro(birth_text="", address="", place="S02")])[0])
    n.refresh_from_db(), r.refresh_from_db()
    assert (n.match_state, r.match_state) == ("none", "review"), (n.match_state, r.match_state)
    p = actions.merge_evacuees(d.u, [n.pk, r.pk])
    assert p.pk == r.pk and Evacuee.objects.get(pk=n.pk).merged_into_id == r.pk
    assert list(queries.review_queue().values_list("pk", flat=True)) == [r.pk]


def test_a_protected_persons_other_registrations_are_withheld_too(d, staff):
    """The protected resident's registration is linked; a second registration of the same person, typed so that it
    matches nobody, is merged into it (or still only a duplicate candidate): neither shows where the person is to a
    reader without the DV right — on the duplicates screen, the evacuee list or the evacuee page."""
    p = Person.objects.get(pk=d.wife.pk)
    ractions.correct_person(d.town.actor(), p, expected_version=p.version, changes={"dv_protected": True},
                            change_date=dt.date(2024, 1, 10), note="支援措置の申出")
    admin = staff["admin_a"]
    a = one(actions.register_evacuees(d.u, [taro(full_name="山田花子", kana="ヤマダハナコ", birth_text="1977-08-15",
                                                 sex="女")])[0])
    b = one(actions.register_evacuees(d.u, [visitor(full_name="山田花子", kana="ヤマダハナコ", birth_text="1977-08-15",
                                                    sex="女", address="", place="S02")])[0])
    # the second one names nobody (as a stale, mistyped paper entry would): no candidates
    Evacuee.objects.filter(pk=b.pk).update(match_candidates=[], match_state="none", person_id=None)
    ea, eb = Evacuee.objects.get(pk=a.pk), Evacuee.objects.get(pk=b.pk)
    assert ea.match_state == "review"  # a protected resident is never 自動確定
    assert queries.evacuee_protection([ea, eb]) == {ea.pk: True, eb.pk: False}
    # a candidate group (same name and birth date): every registration in it is withheld
    [g] = queries.duplicate_groups(d.act.pk, for_staff(d.u))[0]
    assert {r["id"] for r in g["rows"]} == {ea.pk, eb.pk}
    assert [r["shelter"] for r in g["rows"]] == [WITHHELD, WITHHELD]
    # merged into one person: the unlinked registration is protected with the person
    assert actions.merge_evacuees(admin, [ea.pk, eb.pk]).pk == ea.pk
    eb.refresh_from_db()
    assert queries.evacuee_protection([eb])[eb.pk] is True
    [v] = queries.evacuee_views([Evacuee.objects.get(pk=eb.pk)], for_staff(d.u))
    assert v["shelter"] == WITHHELD and v["withheld"]
    body = client_for(d.u).get(f"/disaster/evacuees/{eb.pk}/").content.decode()
    assert "豆田公民館" not in body and "三本松小学校体育館" not in body
    rows, total = queries.evacuee_list(for_staff(d.u), shelter_id=d.s2.pk)
    assert total == 0 and rows == []
    [v] = queries.evacuee_views([Evacuee.objects.get(pk=eb.pk)], for_staff(admin))
    assert v["shelter"] == "豆田公民館"
