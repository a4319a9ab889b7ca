"""Move the settings that lived in their own tables onto the tier engine's table: certificate settings (all tiers),
the privacy setting (one row per municipality) and the MFA policy (a Municipality field). Forward only copies; the
old tables/field are removed by the certificates, privacy and tenancy migrations that depend on this one."""
from django.db import migrations


def forward(apps, schema_editor):
    SettingValue = apps.get_model("platform", "SettingValue")
    Old = apps.get_model("certificates", "CertificateSetting")
    rows = []
    for r in Old.objects.all():
        rows.append(SettingValue(namespace="certificates", key=r.key, tier=r.tier, prefecture_id=r.prefecture_id,
                                 municipality_id=r.municipality_id, value=r.value, set_by=r.set_by,
                                 set_by_role=r.set_by_role, set_at=r.set_at))
    Privacy = apps.get_model("privacy", "PrivacySetting")
    for p in Privacy.objects.all():
        rows.append(SettingValue(namespace="privacy", key="protect_household_members", tier="municipality",
                                 municipality_id=p.municipality_id, value=bool(p.protect_household_members),
                                 set_by=p.updated_by or "migration", set_at=p.updated_at))
    Municipality = apps.get_model("tenancy", "Municipality")
    from django.utils import timezone

    for m in Municipality.objects.filter(mfa_required_for_all_staff=True):
        rows.append(SettingValue(namespace="tenancy", key="mfa_required_for_all_staff", tier="municipality",
                                 municipality_id=m.pk, value=True, set_by="migration", set_at=timezone.now()))
    SettingValue.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [
        ("platform", "0001_initial"),
        ("certificates", "0002_issuance_request_token"),
        ("privacy", "0001_initial"),
        ("tenancy", "0004_merge"),
    ]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
