"""Sharding by municipality on paper (docs/scale-out.md): what already holds today. Every tenant table carries its
municipality (the distribution column) except the known exceptions; no platform (reference) table points into a
tenant table; every foreign key between tenant tables joins rows of the same municipality, in the data too; the
document names every table that would have to change."""
from pathlib import Path

import pytest

from jichitai.continuity import scaleout
from jichitai.guard.db import tenant_models

# the apps this list was written against; tables of apps added later are checked by the general rules only
KNOWN_APPS = {"auth", "contenttypes", "sessions", "tenancy", "audit", "residents", "privacy", "gaiji",
              "legacy_migration", "api", "certificates", "otp_totp", "otp_static", "guard", "continuity"}
# a municipality column that may be NULL: rows that belong to the platform
KNOWN_NULLABLE = {
    "audit_auditevent": "the platform audit chain (municipality NULL)",
    "tenancy_staffuser": "the platform operator has no municipality",
    "platform_setting_value": "the tier engine's values: 標準, 標準追加 and 県版 rows have no municipality",
    "certificates_verificationlog": "a verification request may name no municipality",
}
# no municipality column: reach their municipality through a parent row (would need the column to be distributed)
KNOWN_CHILDREN = {
    "legacy_migration_migrationchunk": "legacy_migration_migrationrun",
    "legacy_migration_migrationrow": "legacy_migration_migrationrun",
    "otp_static_staticdevice": "tenancy_staffuser",
    "otp_static_statictoken": "otp_static_staticdevice",
    "otp_totp_totpdevice": "tenancy_staffuser",
    "tenancy_staffuser_groups": "tenancy_staffuser",
    "tenancy_staffuser_user_permissions": "tenancy_staffuser",
}


def _app_of(table):
    from django.apps import apps

    for m in apps.get_models(include_auto_created=True):
        if m._meta.db_table == table:
            return m._meta.app_label
    raise KeyError(table)


def test_every_tenant_table_carries_its_municipality_except_the_known_ones():
    p = scaleout.plan()
    tenant_tables = {m._meta.db_table for m in tenant_models()}
    assert tenant_tables <= set(p.distributed) | set(p.nullable)
    known = lambda ts: {t for t in ts if _app_of(t) in KNOWN_APPS}  # noqa: E731
    assert known(p.nullable) == set(KNOWN_NULLABLE)
    assert {t: v for t, v in p.children.items() if _app_of(t) in KNOWN_APPS} == KNOWN_CHILDREN
    assert {"residents_person", "residents_personhistory", "residents_household", "gaiji_gaijimapping",
            "api_feedentry", "certificates_issuance"} <= set(p.distributed)
    # every child reaches a table with a municipality column
    for t in p.children:
        parent = t
        for _ in range(5):
            parent = p.children.get(parent, parent)
        assert parent in set(p.distributed) | set(p.nullable), t


def test_no_reference_table_points_into_a_tenant_table():
    from django.apps import apps
    from django.db import models

    p = scaleout.plan()
    sharded = set(p.distributed) | set(p.nullable) | set(p.children)
    for m in apps.get_models(include_auto_created=True):
        if m._meta.db_table not in p.reference:
            continue
        for f in m._meta.concrete_fields:
            if isinstance(f, models.ForeignKey):
                assert f.related_model._meta.db_table not in sharded, (m._meta.db_table, f.name)


@pytest.mark.django_db
def test_foreign_keys_between_tenant_tables_stay_within_one_municipality(town_a, town_b):
    from jichitai.gaiji import actions as gaiji_actions
    from jichitai.tenancy.scope import tenant_scope

    town_a.family()
    town_b.family(family_name="高橋", kana="タカハシ")
    with tenant_scope(town_a.m):
        assert gaiji_actions.register_code(town_a.actor(), code="F041", vendor="A社").pk
    rows = scaleout.misplaced_rows()
    assert rows and set(rows) >= {"residents_person.household_id", "residents_personhistory.person_id",
                                  "residents_household.head_id", "gaiji_gaijimappingevent.mapping_id"}
    assert all(n == 0 for n in rows.values()), rows


def test_the_document_names_every_table_that_would_have_to_change():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "scale-out.md").read_text(encoding="utf-8")
    p = scaleout.plan()
    need = set(KNOWN_NULLABLE) | set(KNOWN_CHILDREN)
    need |= {t for t, _, _ in p.cross_fks if _app_of(t) in KNOWN_APPS}
    need |= {t for t in p.unique_without_muni if _app_of(t) in KNOWN_APPS and t != "api_feedhead"}
    missing = sorted(t for t in need if f"`{t}`" not in doc)
    assert not missing, f"docs/scale-out.md does not name: {missing}"
