"""Writes to staff identity: one function per operation, one transaction and one audit event each.

Who may do what:
- a municipal admin (Perm.MANAGE_STAFF) manages the staff of their OWN municipality only (creating, editing,
  disabling, unlocking, resetting password and two-step sign-in) and never assigns the operator role;
- the operator (Perm.MANAGE_TENANTS) creates the first admin of a municipality that has no active admin;
- everyone changes their own password and enrols their own authenticator.
Temporary passwords are generated here, returned once to be shown once, and must be changed at the next sign-in.
"""
import secrets
from binascii import unhexlify

from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from jichitai.audit.actions import append as audit_append

from .models import StaffUser
from .roles import Perm, Role, has_perm

# Japanese names of the audit event codes written here (the audit log shows these; see audit/views.py).
AUDIT_LABELS = {
    "auth.failed_unknown_user": "ログイン失敗（未登録のユーザー名）",
    "auth.mfa_verified": "2段階認証の確認", "auth.mfa_failed": "2段階認証の失敗",
    "auth.mfa_recovery_used": "回復コードによる2段階認証",
    "staff.created": "職員の登録", "staff.first_admin_created": "最初の管理者の登録（運用者）",
    "staff.updated": "職員情報の変更", "staff.disabled": "職員の利用停止", "staff.enabled": "職員の利用再開",
    "staff.unlocked": "アカウントのロック解除", "staff.password_reset": "パスワードの再設定（仮パスワード発行）",
    "staff.password_changed": "パスワードの変更（本人）", "staff.mfa_enrolled": "2段階認証の登録（本人）",
    "staff.mfa_reset": "2段階認証の解除（管理者）", "staff.recovery_codes_renewed": "回復コードの再発行（本人）",
    "municipality.mfa_policy_set": "2段階認証の必須設定の変更",
}

ASSIGNABLE_ROLES = [Role.ADMIN, Role.CLERK, Role.VIEWER, Role.DISASTER]  # never Role.OPERATOR
TEMP_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"  # no 0/O, 1/l/I


class StaffRuleError(Exception):
    """A staff operation was refused. `errors` maps a form field (or "__all__") to Japanese messages."""

    def __init__(self, errors):
        if isinstance(errors, str):
            errors = {"__all__": [errors]}
        self.errors = {k: (v if isinstance(v, list) else [v]) for k, v in errors.items()}
        super().__init__("; ".join(m for msgs in self.errors.values() for m in msgs))


def _snapshot(u: StaffUser) -> dict:
    return {"username": u.username, "display_name": u.display_name, "role": u.role,
            "can_view_dv_protected": u.can_view_dv_protected, "is_active": u.is_active}


def _event(municipality, action, actor, terminal, target=None, detail=None):
    audit_append(municipality, action, actor=actor, terminal=terminal,
                 object_type="staff" if target is not None else "", object_id=target.pk if target else "",
                 detail=detail or {})


def _require_admin_of(actor, municipality):
    if (not has_perm(actor, Perm.MANAGE_STAFF) or municipality is None
            or actor.municipality_id != municipality.pk):
        raise StaffRuleError("この自治体の職員を管理する権限がありません")


def _require_target(actor, target):
    """The target must be staff of the actor's own municipality (never the operator)."""
    if target.municipality_id is None or target.role == Role.OPERATOR:
        raise StaffRuleError("運用者のアカウントは管理できません")
    _require_admin_of(actor, target.municipality)
    if target.municipality_id != actor.municipality_id:
        raise StaffRuleError("他の自治体の職員は管理できません")


def _check_role(role):
    if role not in [r.value for r in ASSIGNABLE_ROLES]:
        raise StaffRuleError({"role": "この役割は割り当てられません"})


def _check_username(username):
    errors = []
    if not username:
        errors.append("ユーザー名を入力してください")
    else:
        try:
            UnicodeUsernameValidator()(username)
        except ValidationError:
            errors.append("ユーザー名には英数字と @ . + - _ だけが使えます")
        if StaffUser.objects.filter(username__iexact=username).exists():
            errors.append("このユーザー名は既に使われています")
    if errors:
        raise StaffRuleError({"username": errors})


def _lock_active_admins(municipality) -> list:
    """The pks of the municipality's active admins, locked (FOR UPDATE) until the transaction ends: two admins
    disabling or demoting each other at the same moment cannot both pass the 'last admin' check (the second waits
    and then sees one admin)."""
    return list(_active_admins(municipality).select_for_update().order_by("pk").values_list("pk", flat=True))


def _active_admins(municipality):
    return StaffUser.objects.filter(municipality=municipality, role=Role.ADMIN, is_active=True)


def temporary_password(user=None) -> str:
    while True:
        pw = "".join(secrets.choice(TEMP_PASSWORD_ALPHABET) for _ in range(14))
        try:
            password_validation.validate_password(pw, user)
            return pw
        except ValidationError:  # pragma: no cover - 14 random characters pass the validators
            continue


def _new_staff(municipality, *, username, display_name, role, can_view_dv_protected):
    _check_username(username)
    _check_role(role)
    user = StaffUser(username=username, display_name=display_name, role=role, municipality=municipality,
                     can_view_dv_protected=can_view_dv_protected, must_change_password=True)
    temp = temporary_password(user)
    user.set_password(temp)
    user.save()
    return user, temp


@transaction.atomic
def create_staff(actor, terminal, municipality, *, username, display_name="", role=Role.CLERK,
                 can_view_dv_protected=False):
    """A new member of staff of the admin's municipality, with a temporary password (returned, shown once)."""
    _require_admin_of(actor, municipality)
    user, temp = _new_staff(municipality, username=username, display_name=display_name, role=role,
                            can_view_dv_protected=can_view_dv_protected)
    _event(municipality, "staff.created", actor, terminal, user, _snapshot(user))
    return user, temp


@transaction.atomic
def create_first_admin(operator, terminal, municipality, *, username, display_name=""):
    """The operator creates a municipality's first admin; refused once the municipality has an active admin
    (from then on its own admins manage its staff)."""
    if not has_perm(operator, Perm.MANAGE_TENANTS):
        raise StaffRuleError("団体の最初の管理者を登録する権限がありません")
    if _active_admins(municipality).exists():
        raise StaffRuleError("この団体には既に管理者がいます。職員の追加は団体の管理者が行います")
    user, temp = _new_staff(municipality, username=username, display_name=display_name, role=Role.ADMIN,
                            can_view_dv_protected=False)
    _event(municipality, "staff.first_admin_created", operator, terminal, user, _snapshot(user))
    return user, temp


@transaction.atomic
def update_staff(actor, terminal, target, *, display_name, role, can_view_dv_protected):
    _require_target(actor, target)
    _check_role(role)
    admins = _lock_active_admins(target.municipality)  # before the target: one lock order for every writer
    target = StaffUser.objects.select_for_update().get(pk=target.pk)
    if target.pk == actor.pk and role != target.role:
        raise StaffRuleError({"role": "自分自身の役割は変更できません"})
    if target.role == Role.ADMIN and role != Role.ADMIN and target.is_active \
            and len(admins) <= 1:
        raise StaffRuleError({"role": "最後の管理者の役割は変更できません"})
    before = _snapshot(target)
    target.display_name, target.role, target.can_view_dv_protected = display_name, role, can_view_dv_protected
    target.save(update_fields=["display_name", "role", "can_view_dv_protected"])
    after = _snapshot(target)
    _event(target.municipality, "staff.updated", actor, terminal, target,
           {"username": target.username, "changed": {k: [before[k], after[k]] for k in after if before[k] != after[k]}})
    return target


@transaction.atomic
def set_staff_active(actor, terminal, target, active: bool):
    """Disable (利用停止) or re-enable a member of staff. A disabled user cannot sign in and their open
    sessions end at their next request."""
    _require_target(actor, target)
    admins = _lock_active_admins(target.municipality) if not active else []
    target = StaffUser.objects.select_for_update().get(pk=target.pk)
    if not active:
        if target.pk == actor.pk:
            raise StaffRuleError("自分自身を利用停止にはできません")
        if target.role == Role.ADMIN and target.is_active and len(admins) <= 1:
            raise StaffRuleError("最後の管理者は利用停止にできません")
    if target.is_active == active:
        raise StaffRuleError("既にその状態です")
    target.is_active = active
    target.save(update_fields=["is_active"])
    _event(target.municipality, "staff.enabled" if active else "staff.disabled", actor, terminal, target,
           {"username": target.username})
    return target


@transaction.atomic
def unlock_staff(actor, terminal, target):
    _require_target(actor, target)
    target = StaffUser.objects.select_for_update().get(pk=target.pk)
    detail = {"username": target.username, "failed_logins": target.failed_logins,
              "locked_until": target.locked_until.isoformat() if target.locked_until else ""}
    target.failed_logins, target.locked_until = 0, None
    target.save(update_fields=["failed_logins", "locked_until"])
    _event(target.municipality, "staff.unlocked", actor, terminal, target, detail)
    return target


@transaction.atomic
def reset_staff_password(actor, terminal, target):
    """A new temporary password (returned, shown once to the admin); the user must change it at next sign-in.
    The account is unlocked too (the user is expected to sign in with it)."""
    _require_target(actor, target)
    target = StaffUser.objects.select_for_update().get(pk=target.pk)
    temp = temporary_password(target)
    target.set_password(temp)
    target.must_change_password = True
    target.failed_logins, target.locked_until = 0, None
    target.save(update_fields=["password", "must_change_password", "failed_logins", "locked_until"])
    _event(target.municipality, "staff.password_reset", actor, terminal, target, {"username": target.username})
    return target, temp


@transaction.atomic
def reset_staff_mfa(actor, terminal, target):
    """Remove the user's authenticator and recovery codes: they enrol again at their next sign-in."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    _require_target(actor, target)
    n_totp, _ = TOTPDevice.objects.filter(user=target).delete()
    n_static = StaticDevice.objects.filter(user=target).count()
    StaticDevice.objects.filter(user=target).delete()
    if not n_totp and not n_static:
        raise StaffRuleError("この職員は2段階認証を登録していません")
    _event(target.municipality, "staff.mfa_reset", actor, terminal, target, {"username": target.username})
    return target


@transaction.atomic
def set_mfa_policy(actor, terminal, municipality, required: bool, requirement: str = ""):
    """The municipality's 個別 value of `tenancy.mfa_required_for_all_staff` in the tier engine (audited there as
    municipality.mfa_policy_set)."""
    from jichitai.platform import engine

    _require_admin_of(actor, municipality)
    return engine.set_value(actor, "tenancy.mfa_required_for_all_staff", bool(required),
                            tier=engine.Tier.MUNICIPALITY, municipality=municipality, terminal=terminal,
                            requirement=requirement)


@transaction.atomic
def change_own_password(user, terminal, *, old_password, new_password):
    if not user.check_password(old_password):
        raise StaffRuleError({"old_password": "現在のパスワードが正しくありません"})
    if new_password == old_password:
        raise StaffRuleError({"new_password1": "現在と同じパスワードは使えません"})
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as e:
        raise StaffRuleError({"new_password1": list(e.messages)}) from None
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    _event(user.municipality, "staff.password_changed", user, terminal, user, {"username": user.username})
    return user


# --- two-step sign-in (TOTP + recovery codes) -------------------------------------------------------------

def new_totp_key() -> str:
    """A fresh TOTP secret (40 hex digits = 160 bits), kept in the session until the user confirms a code."""
    from django_otp.plugins.otp_totp.models import default_key

    return default_key()


def totp_matches(key_hex: str, token: str) -> bool:
    from django_otp.oath import TOTP

    token = (token or "").strip().replace(" ", "")
    if not token.isdigit() or len(token) != 6:
        return False
    totp = TOTP(unhexlify(key_hex.encode()))
    return totp.verify(int(token), tolerance=1)


def _new_recovery_codes(user):
    from django.conf import settings
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="回復コード", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.JICHITAI_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


@transaction.atomic
def enrol_totp(user, terminal, key_hex: str, token: str):
    """Confirm the authenticator the user set up with `key_hex` by one of its codes: replaces any earlier
    authenticator and issues new recovery codes (returned, shown once). Returns (device, codes)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not totp_matches(key_hex, token):
        raise StaffRuleError({"token": "確認コードが正しくありません。認証アプリに表示されている6桁の数字を入力してください"})
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(user=user, name="認証アプリ", key=key_hex, confirmed=True)
    device.verify_token(token)  # records the code as used (it cannot be replayed for the sign-in step)
    codes = _new_recovery_codes(user)
    _event(user.municipality, "staff.mfa_enrolled", user, terminal, user, {"username": user.username})
    return device, codes


@transaction.atomic
def renew_recovery_codes(user, terminal):
    from django_otp import user_has_device

    if not user_has_device(user):
        raise StaffRuleError("2段階認証が登録されていません")
    codes = _new_recovery_codes(user)
    _event(user.municipality, "staff.recovery_codes_renewed", user, terminal, user, {"username": user.username})
    return codes


def verify_second_factor(user, terminal, token: str):
    """The sign-in's second step: a 6-digit code of the user's authenticator, or one recovery code (used up).
    Returns the device that accepted it, or None. Each device throttles repeated failures (django-otp)."""
    from django_otp import devices_for_user, verify_token
    from django_otp.plugins.otp_static.models import StaticDevice

    token = (token or "").strip().replace(" ", "").replace("-", "").lower()
    device = None
    looks_totp = token.isdigit() and len(token) == 6
    if token:
        for d in devices_for_user(user):
            if isinstance(d, StaticDevice) == looks_totp:
                continue  # a 6-digit number is a TOTP code, anything else a recovery code
            device = verify_token(user, d.persistent_id, token)
            if device is not None:
                break
    with transaction.atomic():
        if device is None:
            _event(user.municipality, "auth.mfa_failed", user, terminal, user, {"username": user.username})
        elif isinstance(device, StaticDevice):
            _event(user.municipality, "auth.mfa_recovery_used", user, terminal, user,
                   {"username": user.username, "remaining": device.token_set.count()})
        else:
            _event(user.municipality, "auth.mfa_verified", user, terminal, user, {"username": user.username})
    return device


def verification_throttled(user, token: str) -> bool:
    """True when the devices that would check `token` (the authenticator for a 6-digit code, else the recovery
    codes) refuse verification for now after repeated wrong codes (django-otp's throttling)."""
    from django_otp import devices_for_user
    from django_otp.plugins.otp_static.models import StaticDevice

    token = (token or "").strip().replace(" ", "").replace("-", "")
    looks_totp = token.isdigit() and len(token) == 6
    devices = [d for d in devices_for_user(user) if isinstance(d, StaticDevice) != looks_totp]
    return bool(devices) and all(not d.verify_is_allowed()[0] for d in devices)
