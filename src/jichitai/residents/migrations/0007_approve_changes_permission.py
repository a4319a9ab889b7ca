"""Grants the permissions of 審査・決裁 to the 自治体管理者 role (the 標準 definitions; tenancy 0003 loaded the others).

`ensure_default_roles` creates missing permission rows but never changes an existing role's definition, so an
existing database gets the grant here. A frozen copy: later changes to the defaults need their own migration."""
from django.db import migrations

PERMS = {"approve_changes": "異動の審査・決裁", "manage_change_settings": "受付・決裁の設定の変更"}


def grant(apps, schema_editor):
    PermissionDefinition = apps.get_model("tenancy", "PermissionDefinition")
    RoleDefinition = apps.get_model("tenancy", "RoleDefinition")
    perms = [PermissionDefinition.objects.get_or_create(code=code, defaults={"label": label})[0]
             for code, label in PERMS.items()]
    for rd in RoleDefinition.objects.filter(role="admin"):
        rd.permissions.add(*perms)


def revoke(apps, schema_editor):
    apps.get_model("tenancy", "PermissionDefinition").objects.filter(code__in=list(PERMS)).delete()


class Migration(migrations.Migration):
    dependencies = [("residents", "0006_intake_and_approval"), ("tenancy", "0004_merge")]
    operations = [migrations.RunPython(grant, revoke)]
