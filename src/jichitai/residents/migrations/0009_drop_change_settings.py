"""residents.ChangeSettings is no longer read: its value moved to the tier engine (platform 0007)."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("residents", "0008_merge_20261207_0925"),
        ("platform", "0007_move_counter_settings"),
    ]
    operations = [migrations.DeleteModel(name="ChangeSettings")]
