"""Tenant isolation: staff of municipality A can never reach, see or change anything of municipality B.

The URL sweep walks EVERY pattern of the application; a new URL with an object id that this test does not know how to
fill makes the test fail, so it cannot be forgotten."""
import datetime as dt

import pytest
from conftest import INTAKE, person_values, sees_all_tenants
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from jichitai.audit.models import AuditEvent
from jichitai.residents import actions
from jichitai.residents.models import Household, Intake, Person, PersonHistory
from jichitai.residents.queries import SearchCriteria, build_search
from jichitai.residents.views import CHANGES
from jichitai.tenancy.models import NumberSequence, StaffUser
from jichitai.tenancy.scope import TenantScopeError, tenant_scope

D = dt.date

# kwargs that identify a tenant-owned object, and how to fill them with B's objects
OBJECT_KWARGS = {"person_id", "household_id", "event_id", "mapping_id", "issuance_id", "staff_id", "chouaza_id",
                 "intake_id",
                 "activation_id", "shelter_id", "disaster_id", "vp_id", "supporter_id", "ledger_id",  # + disaster
                 "evacuee_id", "grant_id",
                 "drill_id", "conflict_id", "offline_intake_id", "offline_kit_id"}  # + continuity
# kwargs that are not object ids
OTHER_KWARGS = {"kind", "name", "code", "key", "rest"}
# patterns that take no object id: skipped by the sweep (each listed on purpose, with why)
NO_OBJECT_PATTERNS = {
    "intake_list": "the own municipality's 決裁待ち and the user's own returned changes (tests/test_intake.py)",
    "change_settings": "admin only (MANAGE_CHANGE_SETTINGS); the own municipality's row only",
    "dashboard": "own municipality only (checked below for B's data)",
    "continuity_backups": "backups covering the own municipality only (tests/test_continuity_backup.py)",
    "login": "public",
    "logout": "POST only, own session",
    "font": "static font files, no tenant data",
    "search": "scoped search (checked below for B's data)",
    "new_person": "creates in own municipality (household_no of B checked below)",
    "audit_log": "own chain only (checked below for B's events)",
    "audit_terminals": "own terminals only; a toggle of B's terminal id is 404 (tests/test_audit_defects.py)",
    "platform_tenants": "operator only, counts only",
    "platform_tenant_create": "operator only",
    "gaiji_list": "own registry only (checked below for B's codes)",
    "gaiji_create": "creates in own municipality",
    "gaiji_import": "loads a table into own municipality",
    "api_changes": "bearer-key API: the municipality comes from the key; another code is 404 (tests/test_api.py)",
    "api_openapi": "static API description, no tenant data",
    "privacy_settings": "admin only (MANAGE_PRIVACY_SETTINGS); reads and writes the own municipality's row only",
    "api_root": "JSON 404, no data",
    "api_not_found": "JSON 404 for any other /api/ URL, no data (`rest` is the unmatched path)",
    "interchange_export": "admin only (VIEW_AUDIT); exports the own municipality only (checked in test_interchange)",
    "certificate_settings": "admin only; the own municipality's 個別 tier only, `key` is a setting name "
                            "(tests/test_certificate_settings.py)",
    "certificate_setting_edit": "admin only; sets the own municipality's 個別 value of setting `key`",
    "certificate_setting_clear": "admin only; clears the own municipality's 個別 value of setting `key`",
    "platform_certificate_settings": "operator only; 標準 / 県版 tiers, no tenant data",
    "platform_certificate_setting_edit": "operator only; 標準 / 県版 value of setting `key`",
    "platform_certificate_setting_clear": "operator only; 標準 / 県版 value of setting `key`",
    "certificate_log": "own issuance log only (scoped manager; B's issuance checked below)",
    "certificate_verify_form": "public form, no tenant data",
    "certificate_verify": "public; `code` is a signed certificate code, not an object id: shows only the issuing "
                          "municipality, kind, date, pages, PDF hash and status of that one certificate "
                          "(tests/test_certificate_verify.py)",
    "mfa_verify": "the signed-in user's own second sign-in step",
    "password_change": "the signed-in user's own password",
    "mfa_setup": "the signed-in user's own authenticator",
    "staff_list": "admin only; the own municipality's staff only (tests/test_staff.py)",
    "staff_create": "admin only; creates staff in the own municipality",
    "staff_mfa_policy": "admin only; the own municipality's two-step sign-in setting",
    "chouaza_list": "admin only (MANAGE_CHOUAZA); the own municipality's 町字 master (scoped manager)",
    "chouaza_new": "admin only; adds a 町字 to the own municipality's master",
    "chouaza_import": "admin only; replaces the own municipality's master (tests/test_chouaza.py)",
    "lists_index": "links only",
    "lists_issuances": "own 交付簿 only (scoped manager; tests/test_lists.py)",
    "lists_daily": "own 日計表 only (scoped manager)",
    "lists_movers": "own 異動者一覧 only (scoped manager, read policy)",
    "lists_households": "own 世帯一覧 only (scoped manager, read policy)",
    "platform_first_admin": "operator only (403 for municipal staff); `code` is a municipality code; refused once "
                            "the municipality has an admin (tests/test_staff.py)",
    "disaster_home": "the own municipality's disasters and shelters only (scoped managers)",
    "disaster_declare": "declares for the own municipality",
    "disaster_shelter_new": "creates a shelter in the own municipality",
    "disaster_operator_declare": "operator only (MANAGE_TENANTS)",
    "vulnerable_roster": "the own municipality's 名簿 only (scoped managers; tests/test_disaster_support.py)",
    "vulnerable_roster_pdf": "the own municipality's 名簿 only",
    "vulnerable_roster_csv": "the own municipality's 名簿 only",
    "vulnerable_find": "looks up a 宛名番号 in the own municipality only",
    "vulnerable_import": "imports into the own municipality; 宛名番号 resolved in it only",
    "bcp_plan": "the own municipality's ICT-BCP only (scoped managers; tests/test_bcp.py)",
    "bcp_plan_edit": "saves a revision of the own municipality's plan",
    "bcp_plan_print": "the own municipality's plan",
    "bcp_plan_pdf": "the own municipality's plan",
    "bcp_drills": "the own municipality's drills; creates one in it",
    "offline_kits": "the own municipality's kits, conflicts and 届出; a sync file of another municipality is "
                    "refused (tests/test_offline_kit.py)",
    "offline_intakes": "the own municipality's 届出 received offline",
    "offline_intake_new": "only on an offline kit (the kit holds one municipality)",
}
NO_OBJECT_PATTERNS.update({  # the disaster app (#12): every list reads the own municipality through its queries
    "disaster_home": "own activations and shelters only", "disaster_declare": "declares for the own municipality",
    "disaster_shelter_new": "creates in the own municipality",
    "disaster_operator_declare": "operator only; municipalities by code, no personal data",
    "disaster_evacuees": "own evacuees only (B's evacuee name checked below)",
    "disaster_quick": "registers in the own municipality", "disaster_import": "registers in the own municipality",
    "disaster_review": "own review queue only", "disaster_safety": "own board only",
    "disaster_unconfirmed": "own residents only", "disaster_safety_note": "a person / evacuee id of B is refused "
    "as not found by the action (tests/test_disaster_evacuees.py)",
    "disaster_grants": "own grants given, grants naming the own municipality as host",
    "disaster_pfif_export": "own consented evacuees only", "disaster_pfif_import": "imports into the own municipality",
    "disaster_dashboard": "own counts only", "disaster_inquiry": "own evacuees only",
    "disaster_operator_grants": "operator only; grants carry no personal data",
    "disaster_duplicates": "the own current disaster's 重複候補 only (scoped managers)",
    "disaster_duplicates_merge": "evacuee ids in the POST body; an id of B is refused as not found by the action "
                                 "(tests/test_disaster_duplicates.py)",
})
# platform (共同利用, tests/test_platform_*.py): `pk` names a platform-level record (setting proposal, contract exit,
# advisory, incident) or, for platform_classify, a requirement only the working group classifies; `row` is a fit-gap
# row name and `year` a fiscal year.
OTHER_KWARGS |= {"pk", "row", "year"}
NO_OBJECT_PATTERNS.update({
    "platform_home": "links only",
    "platform_settings": "operator: 標準/県版; admin: the own municipality's effective values (tests/test_platform_engine)",
    "platform_setting_edit": "operator: 標準/県版; admin: the own municipality's 個別 value of setting `key`",
    "platform_approvals": "proposals the user may decide only (operator / the prefecture's coordinator)",
    "platform_approval_decide": "engine.may_approve refuses anyone but the approver (403)",
    "platform_requirements": "admin: the own municipality's requirements; operator: redirected",
    "platform_classify": "the working group only (operator / coordinator of that prefecture), 403 otherwise",
    "platform_fitgap": "counts per prefecture (no personal data): shared on purpose by the working group",
    "platform_fitgap_drill": "requirement texts behind a count (no personal data): shared by the working group",
    "platform_costs": "operator only",
    "platform_statement_of": "operator any; an admin only the own municipality, another code is 404",
    "platform_statement": "the admin's own municipality",
    "platform_exits": "operator all; an admin only the own municipality's exit",
    "platform_exit": "another municipality's exit is 404 for its admin (tests/test_platform_exit)",
    "platform_exit_archive": "as platform_exit",
    "platform_exit_certificate": "as platform_exit",
    "platform_advisories": "operator: all; admin: what the own municipality received and reported",
    "platform_advisory": "operator only",
    "platform_sla": "operator only",
    "platform_incident": "operator only",
    "platform_probe": "public, answers 'ok' only",
    "platform_licences": "operator only",
    "platform_evidence": "operator any; an admin only the own municipality (`code` ignored)",
})


def iter_patterns(patterns, ns=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            sub_ns = f"{ns}{p.namespace}:" if p.namespace else ns
            if _kwargs_of(p):
                raise AssertionError(f"an include() with kwargs {_kwargs_of(p)} — extend this test")
            yield from iter_patterns(p.url_patterns, sub_ns)
        else:
            assert isinstance(p, URLPattern)
            yield (f"{ns}{p.name}" if p.name else None), p


def _kwargs_of(p):
    pattern = p.pattern
    converters = getattr(pattern, "converters", None)
    if converters is not None:
        return set(converters)
    return set(pattern.regex.groupindex)


B_FAMILY = "綾野"
B_KANA = "アヤノ"
B_ADDRESS = "大字南俣999番地"
B_ADDRESS2 = "大字北俣777番地"


@pytest.fixture
def world(town_a, town_b, staff):
    """A: one family. B: two families with distinctive names, a 除票, a dissolved household and audit events."""
    a_head, a_wife, a_child = town_a.family()
    b_head, b_wife, b_child = town_b.family(family_name=B_FAMILY, kana=B_KANA, address=B_ADDRESS)
    b2_head, _, _ = town_b.family(family_name="綾瀬川", kana="アヤセガワ", address=B_ADDRESS2)
    with tenant_scope(town_b.m):
        actor = town_b.actor()
        lone = actions.register_move_in(actor, values=person_values(family_name="綾小路", family_name_kana="アヤノコウジ",
                                                                    address="大字入野1番"),
                                        change_date=D(2020, 5, 1), notification_date=D(2020, 5, 1))
        actions.register_death(actor, lone, expected_version=1, death_date=D(2023, 1, 1),
                               notification_date=D(2023, 1, 2))
        from jichitai.gaiji import actions as gaiji_actions

        b_gaiji = [gaiji_actions.register_code(actor, code="F040", vendor="綾ベンダー"),
                   gaiji_actions.register_code(actor, code="F041", vendor="綾ベンダー", vendor_juki_code="J+9AD9")]
        from django.utils import timezone

        from jichitai.certificates.models import Issuance

        b_issuances = [Issuance.objects.create(
            issue_no="00000001", public_id="bIssuance0001", kind="resident_copy", person_ids=[b_head.pk],
            subject_atena_nos=[b_head.atena_no], requester_kind="third_party", requester_name="綾野探偵社",
            purpose="調査", issued_by=staff["clerk_b"], issued_at=timezone.now(), issue_date=D(2024, 1, 1))]
        from jichitai.chouaza.actions import save_chouaza

        b_chouaza = [save_chouaza(staff["admin_b"], {"code": "1", "name": "綾南俣", "kana": "アヤナンマタ"})]
        b_persons = list(Person.objects.all())
        b_households = list(Household.objects.all())
        b_intakes = list(Intake.objects.all())
        b_codes = [p.resident_code for p in b_persons]
    with tenant_scope(town_a.m):
        # a second household in A (numbers 0000000001-2) — B has 0000000001-3
        a_other = actions.register_move_in(town_a.actor(), values=person_values(family_name="田中",
                                                                                family_name_kana="タナカ",
                                                                                address="隈一丁目1番"),
                                           change_date=D(2020, 5, 1), notification_date=D(2020, 5, 1))
        a_persons = list(Person.objects.all())
    with tenant_scope(town_b.m):  # the disaster app's objects of B (declaration, shelter, 名簿, 被災者台帳)
        from jichitai.disaster import actions as disaster_actions
        from jichitai.disaster import support_actions as support

        admin_b = staff["admin_b"]
        act = disaster_actions.declare_disaster(admin_b, name="綾町豪雨", kind="flood",
                                                occurred_at=timezone.now() - dt.timedelta(hours=1))
        shelter = disaster_actions.save_shelter(admin_b, {"code": "B1", "name": "綾小学校", "kind": "designated",
                                                          "address": "大字南俣1番", "capacity_day": 10,
                                                          "capacity_night": 10})
        vp = support.save_vulnerable_person(admin_b, b_head.pk, {"care_level": "care3", "consent": "unknown"})
        sup = support.add_supporter(admin_b, vp.pk, {"kind": "welfare_commissioner", "name": "綾野民生委員"})
        led = support.save_ledger(admin_b, act.disaster_id, b_head.household_id, {})
        b_disaster_ids = {"activation_id": act.pk, "shelter_id": shelter.pk, "disaster_id": act.disaster_id,
                          "vp_id": vp.pk, "supporter_id": sup.pk, "ledger_id": led.pk}
        # the continuity app's objects of B (a drill, an offline kit's conflict and 届出)
        from jichitai.continuity import bcp_actions
        from jichitai.continuity import offline as offline_kit
        from jichitai.continuity.offline_models import OfflineIntake, SyncConflict

        drill = bcp_actions.plan_drill(admin_b, scenario="restore", title="綾町の復元訓練", planned_for=D(2026, 12, 1))
        kit = offline_kit.reserve_kit(admin_b, device="aya-1", block_size=10)
        conflict = SyncConflict.objects.create(uuid="b-conflict", kit=kit, kind="intake_queued", reason="綾町の競合",
                                               created_at=timezone.now(), payload={"payload": {}})
        intake = OfflineIntake.objects.create(uuid="b-intake", kit=kit, received_at=timezone.now(),
                                              received_by="clerk-b", kind="other", notifier="綾野届出人", memo="綾町の届出")
        b_disaster_ids.update(drill_id=drill.pk, conflict_id=conflict.pk, offline_intake_id=intake.pk,
                              offline_kit_id=kit.pk)
    with tenant_scope(town_b.m):  # the disaster app (#12): B's disaster, shelter, evacuee and a grant to a third town
        from django.utils import timezone

        from jichitai.disaster import actions as d_actions
        from jichitai.tenancy.models import Municipality

        third = Municipality.objects.create(code="45201", name="宮崎市", prefecture=town_b.m.prefecture)
        b_act = d_actions.declare_disaster(staff["admin_b"], name="綾の豪雨", kind="flood",
                                           occurred_at=timezone.now() - dt.timedelta(hours=1))
        b_shelter = d_actions.save_shelter(staff["admin_b"], {"code": "B01", "name": "綾の体育館", "kind": "designated",
                                                              "address": "大字南俣1番", "capacity_day": 9,
                                                              "capacity_night": 9})
        d_actions.set_shelter_open(staff["admin_b"], b_shelter.pk, True)
        [b_evacuee], _ = d_actions.register_evacuees(staff["admin_b"], [{"full_name": "綾避難者", "place": "B01"}])
        b_grant = d_actions.grant_lookup(staff["admin_b"], third.code, reason="x",
                                         expires_at=timezone.now() + dt.timedelta(days=1))
        b_disaster = {"activation_id": [b_act.pk], "shelter_id": [b_shelter.pk], "evacuee_id": [b_evacuee.pk],
                      "grant_id": [b_grant.pk]}
    with tenant_scope(town_b.m):
        b_events = list(AuditEvent.objects.all())
    assert len(b_events) >= 8 and len(b_households) == 3
    return {
        "a": town_a.m, "b": town_b.m, "a_head": a_head, "a_other": a_other, "a_persons": a_persons,
        "b_persons": b_persons, "b_households": b_households, "b_events": b_events, "b_codes": b_codes,
        "b_staff": list(StaffUser.objects.filter(municipality=town_b.m)), "b_lone": lone, "b_head": b_head, "b_gaiji": b_gaiji, "b_issuances": b_issuances, "b_disaster_ids": b_disaster_ids,
        "b_chouaza": b_chouaza, "b_disaster": b_disaster, "b_intakes": b_intakes,
        "b_secrets": ["綾町", "綾避難者", "綾の体育館", B_FAMILY, B_KANA, "南俣", "北俣", "入野", "綾瀬川", "綾小路", "アヤセガワ", "admin-b", "clerk-b", "綾ベンダー", "綾野探偵社", "綾南俣",
                      *b_codes],
    }


def _fill(name, kwargs, world):
    """Every kwargs combination with B's objects for one pattern."""
    pools = {
        "person_id": [p.pk for p in world["b_persons"]],
        "household_id": [h.pk for h in world["b_households"]],
        "event_id": [e.pk for e in world["b_events"][:3]] + [world["b_events"][-1].pk],
        "mapping_id": [g.pk for g in world["b_gaiji"]],
        "issuance_id": [i.pk for i in world["b_issuances"]],
        "chouaza_id": [c.pk for c in world["b_chouaza"]],
        "staff_id": [u.pk for u in world["b_staff"]],
        **{k: [v] for k, v in world["b_disaster_ids"].items()},
        **world["b_disaster"],
        "intake_id": [i.pk for i in world["b_intakes"]],
    }
    combos = [{}]
    for kw in sorted(kwargs):
        if kw == "kind":
            values = list(CHANGES)  # every kind (those of the matching scope included), valid names only
        else:
            values = pools[kw]
        combos = [{**c, kw: v} for c in combos for v in values]
    return combos


def test_every_url_with_an_object_id_is_404_for_another_municipality(signed_certificates, world, staff):
    c = Client()
    c.force_login(staff["admin_a"])  # the widest role of A: a 403 cannot hide a leak
    checked = set()
    requests = 0
    seen = []
    for name, p in iter_patterns(get_resolver().url_patterns):
        assert name is not None, f"unnamed URL pattern {p.pattern} — name it so that this test can check it"
        seen.append(name)
        kwargs = _kwargs_of(p)
        unknown = kwargs - OBJECT_KWARGS - OTHER_KWARGS
        assert not unknown, f"URL {name} ({p.pattern}) has kwargs {unknown} this test cannot fill: extend it"
        if not kwargs & OBJECT_KWARGS:
            assert name in NO_OBJECT_PATTERNS, (
                f"URL {name} ({p.pattern}) has no object id and is not listed in NO_OBJECT_PATTERNS: "
                "list it (with why it is safe) or give it an object id")
            continue
        for kw in _fill(name, kwargs, world):
            url = reverse(name, kwargs=kw)
            r = c.get(url)
            assert r.status_code == 404, (url, r.status_code)
            r = c.post(url, {**INTAKE, "step": "commit", "expected_version": "1", "address": "侵入1番", "note": "x",
                             "change_date": "2024-04-01", "notification_date": "2024-04-01"})
            assert r.status_code == 404, ("POST", url, r.status_code)
            for secret in world["b_secrets"]:
                assert secret not in r.content.decode()
            requests += 2
        checked.add(name)
    assert checked == {"person_detail", "person_change", "household_detail", "household_change", "audit_detail",
                       "gaiji_review", "gaiji_glyph", "certificate_issue", "certificate_detail", "certificate_void",
                       "certificate_reprint", "staff_edit", "staff_unlock", "staff_reset_password",
                       "staff_reset_mfa", "staff_disable", "staff_enable", "chouaza_edit",
                       "disaster_end", "disaster_shelter_edit", "disaster_shelter_open", "disaster_evacuee",
                       "disaster_evacuee_move", "disaster_evacuee_consent", "disaster_review_decide",
                       "disaster_grant_revoke", "disaster_grant_lookup",
                       "disaster_duplicates_of", "disaster_evacuee_unmerge", "disaster_evacuee_not_duplicate",
                       "vulnerable_new", "vulnerable_edit", "vulnerable_delist", "vulnerable_supporter_add",
                       "vulnerable_supporter_remove", "victim_ledger_list", "victim_ledger", "victim_ledger_save",
                       "victim_assessment_add", "victim_relief_add", "victim_provision_add", "victim_certificate",
                       "bcp_drill", "bcp_drill_action", "offline_decide", "offline_intake_done",
                       "offline_kit_revoke", "intake_detail"}
    assert set(NO_OBJECT_PATTERNS) <= set(seen), "a listed pattern no longer exists: update the list"
    assert requests > 100
    # B's data is untouched by all those POSTs
    with tenant_scope(world["b"]):
        assert not Person.objects.filter(address__contains="侵入").exists()
        from jichitai.certificates.models import Issuance

        assert list(Issuance.objects.values_list("status", flat=True)) == ["issued"]
    # … and B's staff too (the staff URLs were posted with step=commit)
    for u in world["b_staff"]:
        fresh = StaffUser.objects.get(pk=u.pk)
        assert (fresh.password, fresh.is_active, fresh.role) == (u.password, u.is_active, u.role)


def test_the_sweep_reaches_real_pages_for_own_objects(world, staff):
    """Control for the sweep: with A's own ids the same URLs answer (so the 404s above are about tenancy)."""
    c = Client()
    c.force_login(staff["admin_a"])
    head = world["a_head"]
    with tenant_scope(world["a"]):
        event = AuditEvent.objects.order_by("seq").first()
    assert c.get(reverse("person_detail", kwargs={"person_id": head.pk})).status_code == 200
    assert c.get(reverse("household_detail", kwargs={"household_id": head.household_id})).status_code == 200
    assert c.get(reverse("audit_detail", kwargs={"event_id": event.pk})).status_code == 200
    assert c.get(reverse("certificate_issue", kwargs={"person_id": head.pk})).status_code == 200
    for kind, spec in CHANGES.items():
        if spec.scope == "person":
            url = reverse("person_change", kwargs={"person_id": head.pk, "kind": kind})
        elif spec.scope == "household":
            url = reverse("household_change", kwargs={"household_id": head.household_id, "kind": kind})
        else:
            url = reverse("new_person", kwargs={"kind": kind})
        assert c.get(url).status_code == 200, url


def test_b_staff_cannot_reach_a_either(world, staff):
    c = Client()
    c.force_login(staff["clerk_b"])
    head = world["a_head"]
    assert c.get(f"/residents/{head.pk}/").status_code == 404
    assert c.get(f"/households/{head.household_id}/").status_code == 404
    assert c.post(f"/residents/{head.pk}/change/death/", {**INTAKE, "step": "commit"}).status_code == 404


def test_no_page_visible_to_a_shows_b_data(world, staff):
    c = Client()
    c.force_login(staff["admin_a"])
    # (queries here never contain a B secret themselves: the form echoes what was typed)
    pages = ["/", "/residents/?name=綾", "/residents/?kana=あや", "/residents/?kana=ｱﾔ", "/residents/?address=大字",
             "/residents/?status=removed&name=綾", "/residents/?birth_date=S50.4.1", "/residents/?atena_no=1",
             "/residents/?atena_no=7", "/residents/?status=removed&address=大字", "/audit/",
             "/audit/?action=resident.change", "/audit/?action=resident.search", "/audit/?verify=1",
             "/certificates/", "/certificates/?status=issued", "/certificates/settings/"]
    pages += [f"/residents/{p.pk}/" for p in world["a_persons"]]
    pages += [f"/households/{p.household_id}/" for p in world["a_persons"]]
    pages += [f"/residents/{world['a_head'].pk}/change/{k}/" for k, s in CHANGES.items() if s.scope == "person"]
    pages += [f"/households/{world['a_head'].household_id}/change/{k}/" for k, s in CHANGES.items()
              if s.scope == "household"]
    pages += [f"/residents/new/{k}/" for k, s in CHANGES.items() if s.scope == "new"]
    for url in pages:
        r = c.get(url)
        assert r.status_code == 200, (url, r.status_code)
        body = r.content.decode()
        for secret in world["b_secrets"]:
            assert secret not in body, (url, secret)
    # the audit detail pages of A's events (including the searches just made)
    with tenant_scope(world["a"]):
        pks = list(AuditEvent.objects.values_list("pk", flat=True))
    assert len(pks) > 20
    for pk in pks:
        r = c.get(f"/audit/{pk}/")
        assert r.status_code == 200
        for secret in world["b_secrets"]:
            assert secret not in r.content.decode(), (pk, secret)
    # filtering A's audit log by B's staff finds nothing
    r = c.get("/audit/", {"actor": "admin-b"})
    assert r.status_code == 200 and r.context["rows"] == []
    r = c.get("/audit/")
    assert r.context["rows"] and {e.municipality_id for e, _ in r.context["rows"]} == {world["a"].pk}


def test_search_in_a_for_b_names_finds_nothing(world, staff):
    c = Client()
    c.force_login(staff["clerk_a"])
    for q in ({"name": B_FAMILY}, {"kana": B_KANA}, {"address": "南俣"}, {"resident_code": world["b_codes"][0]},
              {"name": "綾"}):
        r = c.get("/residents/", q)
        assert r.status_code == 200
        assert r.context["page"] is not None and r.context["page"].rows == [], q
        assert "該当する住民はいません" in r.content.decode()
    with tenant_scope(world["a"]):
        for crit in (SearchCriteria(name=B_FAMILY), SearchCriteria(kana="あやの"), SearchCriteria(address="南俣"),
                     SearchCriteria(resident_code=world["b_codes"][0])):
            qs, _ = build_search(crit, staff["admin_a"], world["a"])
            assert list(qs) == []
    # control: the same searches find B's people inside B
    with tenant_scope(world["b"]):
        qs, _ = build_search(SearchCriteria(name=B_FAMILY), staff["admin_b"], world["b"])
        assert len(list(qs)) == 3


@sees_all_tenants
def test_a_cannot_target_b_households_by_number(world, staff):
    """Household numbers are per municipality: B's 0000000003 does not exist in A and must not resolve to B."""
    c = Client()
    c.force_login(staff["clerk_a"])
    a_hh = world["a_other"].household_id
    with tenant_scope(world["b"]):
        b3 = Household.objects.get(household_no="0000000003")
        b3_members = Person.objects.filter(household=b3).count()
    before = (PersonHistory.all_tenants.count(), AuditEvent.all_chains.filter(action__startswith="resident.").count())
    r = c.post(f"/households/{a_hh}/change/household_merge/",
               {**INTAKE, "target_household_no": "3", "relationship": "同居人", "change_date": "2024-04-01",
                "notification_date": "2024-04-01", "step": "commit"})
    assert r.status_code == 422 and "その世帯番号の現存する世帯はありません" in r.content.decode()
    r = c.post("/residents/new/move_in/",
               {**INTAKE, "family_name": "侵入", "family_name_kana": "シンニュウ", "birth_date": "1980-01-01", "sex": "1",
                "address": "隈1番", "previous_address": "福岡市", "household_no": "0000000003", "relationship": "子",
                "change_date": "2024-04-01", "notification_date": "2024-04-01", "step": "commit"})
    assert r.status_code == 422 and "その世帯番号の現存する世帯はありません" in r.content.decode()
    assert (PersonHistory.all_tenants.count(),
            AuditEvent.all_chains.filter(action__startswith="resident.").count()) == before
    with tenant_scope(world["b"]):
        assert Person.objects.filter(household=b3).count() == b3_members


def test_unscoped_access_fails_loudly(world):
    for model in (Person, Household, PersonHistory):
        with pytest.raises(TenantScopeError):
            model.objects.all()
        with pytest.raises(TenantScopeError):
            model.objects.filter(pk=1)
    with pytest.raises(TenantScopeError):
        AuditEvent.objects.all()
    with pytest.raises(TenantScopeError):
        Household.objects.create(household_no="9999999999")


@sees_all_tenants
def test_scoped_managers_hide_other_tenant_rows(world):
    b_person = world["b_head"]
    with tenant_scope(world["a"]):
        assert not Person.objects.filter(pk=b_person.pk).exists()
        with pytest.raises(Person.DoesNotExist):
            Person.objects.get(pk=b_person.pk)
        assert Person.objects.filter(pk=b_person.pk).update(family_name="改ざん") == 0
        assert not PersonHistory.objects.filter(person_id=b_person.pk).exists()
        assert not AuditEvent.objects.filter(municipality=world["b"]).exists()
        assert set(Person.objects.values_list("municipality_id", flat=True)) == {world["a"].pk}
    assert Person.all_tenants.get(pk=b_person.pk).family_name == B_FAMILY


@sees_all_tenants
def test_creating_or_saving_a_row_for_another_municipality_raises(world):
    b = world["b"]
    with tenant_scope(world["a"]):
        with pytest.raises(TenantScopeError):
            Household.objects.create(household_no="0000009999", municipality=b)
        with pytest.raises(TenantScopeError):
            Household.objects.create(household_no="0000009999", municipality_id=b.pk)
        with pytest.raises(TenantScopeError):
            Household(household_no="0000009998", municipality=b).save()
        # a B row loaded by system code cannot be saved inside A's scope
        b_hh = Household.all_tenants.get(pk=world["b_head"].household_id)
        b_hh.is_active = False
        with pytest.raises(TenantScopeError):
            b_hh.save()
    assert Household.all_tenants.get(pk=world["b_head"].household_id).is_active
    assert not Household.all_tenants.filter(household_no__in=["0000009999", "0000009998"]).exists()
    # and the next numbers of B are untouched by A's work
    assert NumberSequence.all_tenants.get(municipality=b, name="household").last_value == 3


@sees_all_tenants
def test_operator_cannot_see_residents(world, staff):
    c = Client()
    c.force_login(staff["operator"])
    head = world["a_head"]
    b_head = world["b_head"]
    urls = ["/residents/", "/residents/?name=山田", "/residents/?kana=ヤマダ", "/audit/",
            f"/residents/{head.pk}/", f"/residents/{b_head.pk}/", f"/households/{head.household_id}/",
            f"/households/{b_head.household_id}/"]
    urls += [f"/residents/{head.pk}/change/{k}/" for k, s in CHANGES.items() if s.scope == "person"]
    urls += [f"/households/{head.household_id}/change/{k}/" for k, s in CHANGES.items() if s.scope == "household"]
    urls += [f"/residents/new/{k}/" for k, s in CHANGES.items() if s.scope == "new"]
    with tenant_scope(world["a"]):
        urls.append(f"/audit/{AuditEvent.objects.first().pk}/")
    searches_before = AuditEvent.all_chains.filter(action="resident.search").count()
    for url in urls:
        r = c.get(url)
        assert r.status_code == 403, (url, r.status_code)
        assert "山田" not in r.content.decode() and B_FAMILY not in r.content.decode()
    r = c.post(f"/residents/{head.pk}/change/death/", {**INTAKE, "step": "commit", "expected_version": head.version,
                                                       "death_date": "2024-01-01", "notification_date": "2024-01-01"})
    assert r.status_code == 403
    assert AuditEvent.all_chains.filter(action="resident.search").count() == searches_before
    # the operator's platform page: the tenants and their counts, never a name or an address
    r = c.get("/platform/")
    assert r.status_code == 200
    body = r.content.decode()
    assert "日田市" in body and "綾町" in body and "442046" in body
    for secret in ["山田", "三本松", B_FAMILY, "南俣", head.resident_code]:
        assert secret not in body
    assert c.get("/").status_code == 302 and c.get("/").url == "/platform/"


def test_staff_of_a_municipality_cannot_use_the_platform_pages(world, staff):
    c = Client()
    c.force_login(staff["admin_a"])
    assert c.get("/platform/").status_code == 403
    assert c.get("/platform/new/").status_code == 403
    assert c.post("/platform/new/", {"code": "44206", "name": "臼杵市", "step": "commit"}).status_code == 403


def test_out_of_range_ids_are_404_not_errors(world, staff):
    c = Client()
    c.force_login(staff["admin_a"])
    for url in ("/residents/99999999999999999999999/", "/residents/0/", "/households/99999999999999999999999/",
                "/gaiji/99999999999999999999999/", "/audit/99999999999999999999999/",
                "/certificates/99999999999999999999999/", "/residents/99999999999999999999999/certificate/"):
        assert c.get(url).status_code == 404, url


# ---------------------------------------------------------------- B's ids in query strings and POST bodies

def _parameter_names():
    """Every query-string or form parameter the application reads: the names of all form fields and every
    request.GET / request.POST key in the source. A new parameter is swept without editing this test."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "src" / "jichitai"
    names = set()
    for p in root.rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        names |= set(re.findall(r"^\s+([a-z_0-9]+) = forms\.[A-Za-z]+", text, re.M))
        names |= set(re.findall(r"request\.(?:GET|POST)(?:\.get|\.getlist)?[\[(]\s*\"([a-z_0-9]+)\"", text))
    return names


def _own_pages(world, staff):
    """Every page of A's admin with a path filled with A's own objects (so the page itself answers)."""
    with tenant_scope(world["a"]):
        event = AuditEvent.objects.order_by("seq").first()
    head = world["a_head"]
    own = {"person_id": head.pk, "household_id": head.household_id, "event_id": event.pk,
           "staff_id": staff["clerk_a"].pk}
    urls = []
    for name, p in iter_patterns(get_resolver().url_patterns):
        kwargs = _kwargs_of(p)
        if name in ("logout", "login", "interchange_export") or kwargs & {"mapping_id", "issuance_id", "chouaza_id",
                                                                          "intake_id", "name", "code", "key", "rest",
                                                                          "pk", "row", "year",
                                                                          "activation_id", "shelter_id", "evacuee_id",
                                                                          "grant_id", "disaster_id", "vp_id",
                                                                          "supporter_id", "ledger_id", "drill_id",
                                                                          "conflict_id", "offline_intake_id",
                                                                          "offline_kit_id"}:
            continue  # no A object of that kind here / not a tenant page (the API: tests/test_api.py)
        if "kind" in kwargs:
            scope = "person" if "person_id" in kwargs else "household" if "household_id" in kwargs else "new"
            for kind, spec in CHANGES.items():
                if spec.scope == scope:
                    urls.append(reverse(name, kwargs={**{k: own[k] for k in kwargs - {"kind"}}, "kind": kind}))
        else:
            urls.append(reverse(name, kwargs={k: own[k] for k in kwargs}))
    return urls


def test_b_ids_in_query_strings_and_post_bodies_reach_nothing_of_b(signed_certificates, world, staff):
    names = _parameter_names()
    assert {"members", "new_head", "target_household_no", "atena_no", "person_ids", "page"} <= names
    b_head = world["b_head"]
    b_hh = next(h for h in world["b_households"] if h.pk == b_head.household_id)
    values = [str(b_head.pk), str(b_head.household_id), b_head.atena_no, b_hh.household_no]
    with tenant_scope(world["b"]):
        before = (sorted(Person.objects.values_list("pk", "version", "household_id", "status")),
                  PersonHistory.objects.count(), sorted(Household.objects.values_list("pk", "head_id", "is_active")))
    c = Client()
    c.force_login(staff["admin_a"])
    urls = _own_pages(world, staff)
    assert len(urls) > 20
    requests = 0
    for url in urls:
        for v in values:
            for step in ("confirm", "commit"):
                data = {n: v for n in names}
                data.update(step=step, members=[str(p.pk) for p in world["b_persons"][:3]],
                            person_ids=[str(p.pk) for p in world["b_persons"][:3]])
                for r in ((c.get(url, data),) if step == "commit" else ()) + (c.post(url, data),):
                    requests += 1
                    assert r.status_code < 500, (url, v, r.status_code)
                    body = r.content.decode(errors="replace")
                    for secret in world["b_secrets"]:
                        if secret != v:  # a form echoes what was typed; that is not B's data
                            assert secret not in body, (url, v, secret)
    assert requests > 200
    with tenant_scope(world["b"]):  # and nothing of B changed
        after = (sorted(Person.objects.values_list("pk", "version", "household_id", "status")),
                 PersonHistory.objects.count(), sorted(Household.objects.values_list("pk", "head_id", "is_active")))
    assert after == before
