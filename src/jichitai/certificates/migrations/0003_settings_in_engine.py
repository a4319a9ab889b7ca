import django.db.models.manager
from django.db import migrations


class Migration(migrations.Migration):
    """Certificate settings now live in the tier engine's table (copied by platform 0002); CertificateSetting
    becomes a proxy of it (namespace "certificates")."""

    dependencies = [("certificates", "0002_issuance_request_token"), ("platform", "0002_move_settings")]
    operations = [
        migrations.DeleteModel(name="CertificateSetting"),
        migrations.CreateModel(
            name="CertificateSetting",
            fields=[],
            options={"proxy": True, "indexes": [], "constraints": []},
            bases=("platform.settingvalue",),
            managers=[("objects", django.db.models.manager.Manager())],
        ),
    ]
