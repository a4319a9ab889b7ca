from django.apps import AppConfig
from django.core import checks


class AuditConfig(AppConfig):
    name = "jichitai.audit"
    label = "audit"
    verbose_name = "監査ログ"

    def ready(self):
        checks.register(check_audit_keys)


def check_audit_keys(app_configs=None, **kwargs):
    """With JICHITAI_AUDIT_KEYS_REQUIRED (production), the HMAC keyring and the checkpoint signing key must be
    provisioned before the server starts: `runserver` and `jichitai check` stop with this message."""
    import os
    from pathlib import Path

    from django.conf import settings

    from . import keys

    if not settings.JICHITAI_AUDIT_KEYS_REQUIRED:
        return []
    errors = []
    try:
        keys.keyring()
    except keys.AuditKeyError as exc:
        errors.append(checks.Error(str(exc), id="jichitai.audit.E001"))
    path = Path(settings.JICHITAI_AUDIT_SIGNING_KEY_FILE)
    if not path.exists() or not os.access(path, os.R_OK):
        errors.append(checks.Error(
            f"チェックポイント署名鍵がありません: {path}（設定 JICHITAI_AUDIT_SIGNING_KEY_FILE） / the checkpoint signing"
            f" key is missing: {path} (setting JICHITAI_AUDIT_SIGNING_KEY_FILE)", id="jichitai.audit.E002"))
    return errors
