"""Joins two branches of work that each added a legacy_migration migration after 0001 (tenant-scoped runs and
keys; per-person extra attributes). No operations."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("legacy_migration", "0002_person_extra"), ("legacy_migration", "0002_tenant_scoped_runs_and_keys")]
    operations = []
