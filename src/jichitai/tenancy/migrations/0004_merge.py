"""Joins two branches of work that each added a tenancy migration after 0001 (staff identity; demo flag and
scoped number series). No operations."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0003_default_roles"), ("tenancy", "0002_municipality_is_demo_scoped_sequences")]
    operations = []
