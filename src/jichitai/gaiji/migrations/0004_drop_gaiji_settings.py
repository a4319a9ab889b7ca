"""gaiji.GaijiSettings is no longer read: its value moved to the tier engine (platform 0007)."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("gaiji", "0003_one_mapping_per_code_two_person"),
        ("platform", "0007_move_counter_settings"),
    ]
    operations = [migrations.DeleteModel(name="GaijiSettings")]
