"""The permission to keep the ICT-BCP plan and its drills, granted to the 標準 自治体管理者 role.

Role definitions are data (tenancy 0003); a role definition already edited by the platform keeps its edits apart
from gaining this permission, which did not exist before."""
from django.db import migrations

CODE, LABEL = "manage_bcp", "業務継続計画（ICT-BCP）と訓練の管理"


def grant(apps, schema_editor):
    PermissionDefinition = apps.get_model("tenancy", "PermissionDefinition")
    RoleDefinition = apps.get_model("tenancy", "RoleDefinition")
    perm, _ = PermissionDefinition.objects.get_or_create(code=CODE, defaults={"label": LABEL})
    for rd in RoleDefinition.objects.filter(role="admin"):
        rd.permissions.add(perm)


def revoke(apps, schema_editor):
    apps.get_model("tenancy", "PermissionDefinition").objects.filter(code=CODE).delete()


class Migration(migrations.Migration):
    dependencies = [("continuity", "0001_bcp"), ("tenancy", "0004_merge")]
    operations = [migrations.RunPython(grant, revoke)]
