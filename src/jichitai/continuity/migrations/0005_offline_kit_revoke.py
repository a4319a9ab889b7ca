"""Revoking an offline kit (a lost laptop): who revoked it and why, and its reserved certificate numbers made void."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("continuity", "0004_merge")]
    operations = [
        migrations.AddField("offlinekit", "revoked_by",
                            models.CharField("失効させた職員", max_length=150, blank=True, default=""), preserve_default=False),
        migrations.AddField("offlinekit", "revoke_reason",
                            models.CharField("失効の理由", max_length=200, blank=True, default=""), preserve_default=False),
        migrations.AddField("offlinekit", "void_ranges",
                            models.JSONField("欠番にした証明書番号", default=list, blank=True)),
    ]
