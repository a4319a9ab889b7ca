"""The per-municipality 外字 registry: codes, automatic approval only from code tables, manual review, history."""
import struct
import zlib

import pytest

from jichitai import moji
from jichitai.audit.models import AuditEvent
from jichitai.gaiji import actions, queries
from jichitai.gaiji.models import Evidence, GaijiMapping, GaijiMappingEvent, Status
from jichitai.residents.actions import ConflictError, RuleError
from jichitai.tenancy.scope import tenant_scope


def tiny_png():
    raw = b"\x00\xff" * 1
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw[:2])) + chunk(b"IEND", b""))


@pytest.fixture
def admin_actor(town_a):
    with tenant_scope(town_a.m):
        yield town_a.actor()


@pytest.fixture
def reviewer(town_a, admin_actor):
    """A second admin: who proposed a mapping never decides it (two_person_review, standard on)."""
    from conftest import make_user

    return actions.Actor(user=make_user("admin-a-review", "admin", town_a.m), terminal="t", municipality=town_a.m)


@pytest.mark.parametrize("code,expected", [("F040", "\ue000"), ("f040", "\ue000"), ("F9FC", "\ue757"),
                                           ("U+E000", "\ue000"), ("U+E123", "\ue123")])
def test_legacy_codes_decode_to_private_use(code, expected):
    ch, _ = actions.parse_legacy_code(code)
    assert ch == expected


@pytest.mark.parametrize("code", ["8140", "F07F", "FA40", "ZZZZ", "U+4E00", "", "F0", "U+ZZZZ"])
def test_bad_legacy_codes_are_refused_with_a_reason(code):
    with pytest.raises(RuleError) as e:
        actions.parse_legacy_code(code)
    assert "code" in e.value.errors


@pytest.mark.django_db
def test_code_table_match_is_approved_automatically(admin_actor):
    m = actions.register_code(admin_actor, code="F040", vendor="A社", vendor_juki_code="J+9AD9")
    rec = moji.by_juki("J+9AD9")
    assert m.status == Status.APPROVED and m.evidence == Evidence.JUKI
    assert m.mj_name == rec.mj and m.mapped_text == rec.text and "髙" in m.mapped_text
    assert m.reviewer == admin_actor.user and m.reviewed_at is not None
    assert [e.action for e in m.events.all()] == ["registered", "auto_approved"]
    assert AuditEvent.objects.filter(action="gaiji.auto_approved", object_id=str(m.pk)).count() == 1


@pytest.mark.django_db
def test_no_code_table_means_manual_review(admin_actor, reviewer):
    m = actions.register_code(admin_actor, code="F041", vendor="A社", glyph_png=tiny_png())
    assert m.status == Status.PROPOSED and not m.mapped_text
    assert queries.approved_table("A社") == {}
    rec = moji.by_ucs("髙")
    m = actions.approve_manually(reviewer, m, mj_name=rec.mj, expected_version=m.version, note="字形を比較")
    assert m.status == Status.APPROVED and m.evidence == Evidence.MANUAL
    assert queries.approved_table("A社") == {"\ue001": rec.text}
    with pytest.raises(ConflictError):  # a second reviewer with the page opened before
        actions.mark_unmappable(reviewer, m, expected_version=1, note="x")
    assert GaijiMapping.objects.get(pk=m.pk).status == Status.APPROVED


@pytest.mark.django_db
def test_disagreeing_code_tables_are_not_approved(admin_actor):
    koseki_other = moji.by_ucs("高").koseki
    m = actions.register_code(admin_actor, code="F042", vendor="A社", vendor_juki_code="J+9AD9",
                              vendor_koseki_no=koseki_other)
    assert m.status == Status.PROPOSED
    assert [e.action for e in m.events.all()] == ["registered", "conflict"]


@pytest.mark.django_db
def test_registry_rules(admin_actor, staff):
    with pytest.raises(RuleError) as e:
        actions.register_code(admin_actor, code="F043", vendor_juki_code="J+0000")
    assert "vendor_juki_code" in e.value.errors
    with pytest.raises(RuleError):
        actions.register_code(admin_actor, code="F044", glyph_png=b"GIF89a....")
    m = actions.register_code(admin_actor, code="F045", vendor="B社")
    with pytest.raises(RuleError):
        actions.register_code(admin_actor, code="F045", vendor="B社")  # duplicate
    with pytest.raises(RuleError) as e:
        actions.mark_unmappable(admin_actor, m, expected_version=m.version, note="")
    assert "note" in e.value.errors
    with pytest.raises(RuleError):
        actions.approve_manually(admin_actor, m, mj_name="MJ999999", expected_version=m.version)
    clerk = actions.Actor(user=staff["clerk_a"], terminal="t", municipality=admin_actor.municipality)
    with pytest.raises(RuleError):
        actions.register_code(clerk, code="F046")
    assert GaijiMapping.objects.filter(sjis_code__in=["F043", "F044", "F046"]).count() == 0


@pytest.mark.django_db
def test_history_is_append_only(admin_actor, reviewer):
    m = actions.register_code(admin_actor, code="F050", vendor="A社")
    m = actions.mark_unmappable(reviewer, m, expected_version=m.version, note="MJにない")
    m = actions.reopen(admin_actor, m, expected_version=m.version, note="再確認")
    events = list(m.events.all())
    assert [e.action for e in events] == ["registered", "unmappable", "reopened"]
    assert events[1].snapshot["status"] == "unmappable" and events[2].snapshot["status"] == "proposed"
    with pytest.raises(RuntimeError):
        events[0].save()
    with pytest.raises(RuntimeError):
        GaijiMappingEvent.objects.filter(mapping=m).update(note="x")
    with pytest.raises(RuntimeError):
        GaijiMappingEvent.objects.filter(mapping=m).delete()


@pytest.mark.django_db
def test_unapproved_private_use_character_never_reaches_a_name(town_a, admin_actor):
    from conftest import person_values

    from jichitai.residents import actions as resident_actions

    actions.register_code(admin_actor, code="F060", vendor="A社")  # proposed only
    with pytest.raises(RuleError) as e:
        resident_actions.register_move_in(admin_actor, values=person_values(family_name="\ue03c田"),
                                          change_date=__import__("datetime").date(2020, 1, 1),
                                          notification_date=__import__("datetime").date(2020, 1, 2))
    assert "family_name" in e.value.errors


@pytest.mark.django_db
def test_review_screen_flow(town_a, staff, login, reviewer):
    with tenant_scope(town_a.m):
        m = actions.register_code(reviewer, code="F070", vendor="A社", glyph_png=tiny_png())  # proposed by another admin
    c = login(staff["admin_a"])
    r = c.get(f"/gaiji/{m.pk}/", {"reading": "たか"})
    body = r.content.decode()
    assert r.status_code == 200 and 'class="vendor-glyph"' in body and "glyph-big" in body
    assert c.get(f"/gaiji/{m.pk}/glyph.png").content.startswith(b"\x89PNG")
    rec = moji.by_ucs("髙")
    post = {"expected_version": 1, "decision": "approve", "mj_name": rec.mj, "note": ""}
    r = c.post(f"/gaiji/{m.pk}/", post)
    assert r.status_code == 200 and "確定する" in r.content.decode()
    with tenant_scope(town_a.m):
        assert GaijiMapping.objects.get(pk=m.pk).status == Status.PROPOSED  # not before the confirmation
    r = c.post(f"/gaiji/{m.pk}/", {**post, "step": "commit"})
    assert r.status_code == 302
    with tenant_scope(town_a.m):
        assert GaijiMapping.objects.get(pk=m.pk).status == Status.APPROVED
    clerk = login(staff["clerk_a"])
    assert clerk.get(f"/gaiji/{m.pk}/").status_code == 200  # clerks may look
    assert clerk.post(f"/gaiji/{m.pk}/", {**post, "step": "commit"}).status_code == 404  # but not decide
    assert clerk.get("/gaiji/new/").status_code == 403


def test_vendor_table_with_an_impossible_ucs_value_is_refused_with_the_line():
    from jichitai.gaiji.actions import TableError, parse_vendor_table

    with pytest.raises(TableError) as e:
        parse_vendor_table("vendor_code,ucs\nF040,U+FFFFFFFFFFFFFFFF\n".encode("utf-8"))
    assert "2行目" in str(e.value) and "UCS" in str(e.value)


# ------------------------------------------------------------------ one mapping per code; two different staff (#10)

@pytest.mark.django_db
def test_a_second_proposal_for_the_same_code_is_refused_whatever_the_vendor(admin_actor, reviewer):
    first = actions.register_code(admin_actor, code="F080", vendor="A社", vendor_juki_code="J+9AD9")
    assert first.status == Status.APPROVED
    for vendor in ("A社", "", "B社"):
        with pytest.raises(RuleError) as e:
            actions.register_code(reviewer, code="F080", vendor=vendor)
        assert "既に登録されています" in e.value.errors["code"][0] and "承認済み" in e.value.errors["code"][0]
    assert GaijiMapping.objects.filter(pua_char=first.pua_char).count() == 1
    out = actions.import_vendor_table(reviewer, vendor="B社", data="vendor_code,ucs\nF080,U+9AD9\n".encode())
    assert out["skipped"] == ["F080"] and GaijiMapping.objects.filter(pua_char=first.pua_char).count() == 1


@pytest.mark.django_db
def test_the_database_refuses_a_second_row_for_a_code(admin_actor):
    from django.db import IntegrityError, transaction

    m = actions.register_code(admin_actor, code="F081", vendor="A社")
    with pytest.raises(IntegrityError), transaction.atomic():
        GaijiMapping.objects.create(pua_char=m.pua_char, sjis_code="F081", vendor="別のベンダー")


@pytest.mark.django_db
def test_who_proposed_a_mapping_never_decides_it(admin_actor, reviewer, staff):
    from jichitai.gaiji import config

    m = actions.register_code(admin_actor, code="F082", vendor="A社", glyph_png=tiny_png())
    assert m.proposed_by == admin_actor.user and config.two_person_review(admin_actor.municipality) is True
    rec = moji.by_ucs("髙")
    with pytest.raises(RuleError) as e:
        actions.approve_manually(admin_actor, m, mj_name=rec.mj, expected_version=m.version)
    assert "別の職員" in str(e.value)
    with pytest.raises(RuleError):
        actions.mark_unmappable(admin_actor, m, expected_version=m.version, note="なし")
    assert GaijiMapping.objects.get(pk=m.pk).status == Status.PROPOSED
    m = actions.approve_manually(reviewer, m, mj_name=rec.mj, expected_version=m.version)
    assert m.status == Status.APPROVED and m.reviewer == reviewer.user
    # the setting (standard on) may be turned off by an admin — weakening the standard, so only once approved
    from jichitai.platform import engine

    n = actions.register_code(admin_actor, code="F083", vendor="A社")
    proposal = actions.set_two_person_review(admin_actor, False)
    assert isinstance(proposal, engine.SettingProposal)
    assert config.two_person_review(admin_actor.municipality) is True
    engine.decide_proposal(staff["operator"], proposal.pk, approve=True)
    admin_actor.municipality.__dict__.pop("_platform_settings", None)  # the next request's fresh municipality
    assert config.two_person_review(admin_actor.municipality) is False
    actions.approve_manually(admin_actor, n, mj_name=rec.mj, expected_version=n.version)
    from conftest import audit_events
    import json as _json
    detail = _json.loads(audit_events(admin_actor.municipality, action="setting.approved")[-1].detail)
    assert detail["new"] is False and detail["requested_by"] == admin_actor.user.username
    # turning it back on (protecting more) takes effect at once, with the setting's own audit event
    assert not isinstance(actions.set_two_person_review(admin_actor, True), engine.SettingProposal)
    assert _json.loads(audit_events(admin_actor.municipality, action="gaiji.settings.two_person_review")[-1]
                       .detail) == {"old": False, "new": True}


def test_the_review_screen_refuses_the_proposers_own_approval(town_a, staff, login):
    with tenant_scope(town_a.m):
        m = actions.register_code(town_a.actor(), code="F090", vendor="A社", glyph_png=tiny_png())  # admin_a
    c = login(staff["admin_a"])
    assert "あなたの登録です" in c.get(f"/gaiji/{m.pk}/").content.decode()
    r = c.post(f"/gaiji/{m.pk}/", {"expected_version": 1, "decision": "approve", "mj_name": moji.by_ucs("髙").mj,
                                   "note": "", "step": "commit"})
    assert r.status_code == 422 and "別の職員" in r.content.decode()
    with tenant_scope(town_a.m):
        assert GaijiMapping.objects.get(pk=m.pk).status == Status.PROPOSED
