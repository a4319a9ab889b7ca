from django.db import migrations


class Migration(migrations.Migration):
    """The household rule is now the tier engine's `privacy.protect_household_members` (copied by platform 0002)."""

    dependencies = [("privacy", "0001_initial"), ("platform", "0002_move_settings")]
    operations = [migrations.DeleteModel(name="PrivacySetting")]
