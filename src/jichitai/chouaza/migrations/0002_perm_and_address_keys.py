"""Grants 町字マスタの管理 to the 標準 admin role, and recomputes every person's address search key with the new
numeral normalisation (二丁目 = 2丁目 = ２丁目; chouaza.normalize.address_key). The registered addresses themselves
are not touched: only the derived key column."""
from django.db import migrations


def grant(apps, schema_editor):
    PermissionDefinition = apps.get_model("tenancy", "PermissionDefinition")
    RoleDefinition = apps.get_model("tenancy", "RoleDefinition")
    perm, _ = PermissionDefinition.objects.get_or_create(code="manage_chouaza", defaults={"label": "町字マスタの管理"})
    for rd in RoleDefinition.objects.filter(role="admin"):
        rd.permissions.add(perm)


def rekey(apps, schema_editor):
    from jichitai.chouaza.normalize import address_key

    Person = apps.get_model("residents", "Person")
    last = 0
    while True:
        batch = list(Person.objects.filter(pk__gt=last).order_by("pk").values_list("pk", "address", "address_key")[:5000])
        if not batch:
            break
        for pk, address, old in batch:
            new = address_key(address)
            if new != old:
                Person.objects.filter(pk=pk).update(address_key=new)
        last = batch[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("chouaza", "0001_initial"),
        ("tenancy", "0004_merge"),
        ("residents", "0005_history_municipality_id"),
    ]
    operations = [
        migrations.RunPython(grant, migrations.RunPython.noop),
        migrations.RunPython(rekey, migrations.RunPython.noop),
    ]
