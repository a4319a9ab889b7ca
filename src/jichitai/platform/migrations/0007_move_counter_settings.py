"""Move the two counter settings that still had their own tables onto the tier engine's table (as 個別 values): the
審査・決裁 switch (residents.ChangeSettings → counter.approval_required) and the 外字 two-person review
(gaiji.GaijiSettings → gaiji.two_person_review). Only values that differ from the built-in default are copied (a row
holding the default said nothing the engine does not already say). The old tables are dropped by the residents and
gaiji migrations that depend on this one."""
from django.db import migrations


def forward(apps, schema_editor):
    SettingValue = apps.get_model("platform", "SettingValue")
    rows = []
    for r in apps.get_model("residents", "ChangeSettings").objects.filter(approval_required=True):
        rows.append(SettingValue(namespace="counter", key="approval_required", tier="municipality",
                                 municipality_id=r.municipality_id, value=True, set_by="migration",
                                 set_at=r.updated_at))
    for r in apps.get_model("gaiji", "GaijiSettings").objects.filter(two_person_review=False):
        rows.append(SettingValue(namespace="gaiji", key="two_person_review", tier="municipality",
                                 municipality_id=r.municipality_id, value=False, set_by="migration",
                                 set_at=r.updated_at))
    taken = set(SettingValue.objects.filter(tier="municipality", namespace__in=["counter", "gaiji"])
                .values_list("namespace", "key", "municipality_id"))
    SettingValue.objects.bulk_create([r for r in rows if (r.namespace, r.key, r.municipality_id) not in taken])


class Migration(migrations.Migration):
    dependencies = [
        ("platform", "0006_dependency_audit"),
        ("residents", "0008_merge_20261207_0925"),
        ("gaiji", "0003_one_mapping_per_code_two_person"),
    ]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
