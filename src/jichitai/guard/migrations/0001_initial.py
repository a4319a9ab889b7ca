from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="PurgePermit",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("municipality_id", models.BigIntegerField()),
                ("txid", models.BigIntegerField(default=0)),
                ("reason", models.CharField(max_length=200)),
            ],
        ),
    ]
