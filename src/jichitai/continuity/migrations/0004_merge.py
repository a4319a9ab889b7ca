"""Joins the two lines of the continuity app's migrations: backups and failover drills (0001_initial,
0002_failover_drill) and the ICT-BCP plan and offline kit (0001_bcp … 0003_offline_kit), written in parallel."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("continuity", "0002_failover_drill"), ("continuity", "0003_offline_kit")]
    operations = []
