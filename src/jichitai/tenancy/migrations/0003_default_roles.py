"""Loads the 標準 role definitions (what each role may do) that roles.py used to hard-code.

The tables here are a frozen copy: later changes to the defaults need their own migration."""
from django.db import migrations

PERMS = {
    "manage_tenants": "団体の管理（プラットフォーム）",
    "view_residents": "住民の照会",
    "change_residents": "住民の異動の登録",
    "view_individual_number": "個人番号の表示",
    "view_audit": "監査ログの閲覧・データ出力",
    "view_gaiji": "外字の照会",
    "manage_gaiji": "外字の登録・審査",
    "issue_certificates": "証明書の発行",
    "void_certificates": "証明書の取消",
    "manage_certificate_settings": "証明書設定の変更",
    "manage_privacy_settings": "個人情報保護の設定の変更",
    "manage_staff": "職員の管理",
    "disaster_response": "災害対応",
    "register_evacuees": "避難者の登録",
    "confirm_safety": "安否確認",
    "view_vulnerable_persons": "避難行動要支援者名簿の閲覧",
}
DISASTER = ["disaster_response", "register_evacuees", "confirm_safety", "view_vulnerable_persons"]
ROLES = {
    "operator": ("プラットフォーム運用者", ["manage_tenants"]),
    "admin": ("自治体管理者", ["view_residents", "change_residents", "view_individual_number", "view_audit",
                         "view_gaiji", "manage_gaiji", "issue_certificates", "void_certificates",
                         "manage_certificate_settings", "manage_staff", "manage_privacy_settings", *DISASTER]),
    "clerk": ("窓口職員", ["view_residents", "change_residents", "view_individual_number", "view_gaiji",
                       "issue_certificates"]),
    "viewer": ("照会専用職員", ["view_residents"]),
    "disaster": ("災害対応職員", ["view_residents", *DISASTER]),
}


def load(apps, schema_editor):
    PermissionDefinition = apps.get_model("tenancy", "PermissionDefinition")
    RoleDefinition = apps.get_model("tenancy", "RoleDefinition")
    perms = {code: PermissionDefinition.objects.get_or_create(code=code, defaults={"label": label})[0]
             for code, label in PERMS.items()}
    for role, (label, codes) in ROLES.items():
        rd, created = RoleDefinition.objects.get_or_create(role=role, defaults={"label": label})
        if created:
            rd.permissions.set([perms[c] for c in codes])


def unload(apps, schema_editor):
    apps.get_model("tenancy", "RoleDefinition").objects.all().delete()
    apps.get_model("tenancy", "PermissionDefinition").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0002_staff_identity")]
    operations = [migrations.RunPython(load, unload)]
