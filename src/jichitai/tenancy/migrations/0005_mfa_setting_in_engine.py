from django.db import migrations


class Migration(migrations.Migration):
    """The MFA policy is now the tier engine's `tenancy.mfa_required_for_all_staff` (copied by platform 0002)."""

    dependencies = [("tenancy", "0004_merge"), ("platform", "0002_move_settings")]
    operations = [migrations.RemoveField(model_name="municipality", name="mfa_required_for_all_staff")]
