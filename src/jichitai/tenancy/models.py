from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from jichitai.common.checkdigits import local_government_check_digit, validate_local_government_code

from .roles import Perm, Role, has_perm
from .scope import TenantModel


class Prefecture(models.Model):
    code = models.CharField("都道府県コード", max_length=2, unique=True)
    name = models.CharField("都道府県名", max_length=10)

    class Meta:
        ordering = ["code"]
        verbose_name = "都道府県"

    def __str__(self):
        return self.name


def _validate_code(value):
    try:
        validate_local_government_code(value)
    except ValueError as e:
        raise ValidationError(str(e)) from None


class Municipality(models.Model):
    """A tenant: one municipality (市区町村) sharing the platform."""

    code = models.CharField("地方公共団体コード", max_length=5, unique=True, validators=[_validate_code])
    prefecture = models.ForeignKey(Prefecture, on_delete=models.PROTECT, related_name="municipalities")
    name = models.CharField("団体名", max_length=40)
    name_kana = models.CharField("団体名カナ", max_length=80, blank=True)
    is_active = models.BooleanField("利用中", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # created by `seed_demo` (synthetic data); seeding refuses a database holding any other kind (docs/architecture.md)
    is_demo = models.BooleanField("デモ団体", default=False, editable=False)

    class Meta:
        ordering = ["code"]
        verbose_name = "自治体"

    def __str__(self):
        return f"{self.prefecture.name}{self.name}"

    @property
    def mfa_required_for_all_staff(self) -> bool:
        """A tier-engine setting (`tenancy.mfa_required_for_all_staff`), read once per municipality object."""
        from jichitai.platform import engine

        return bool(engine.cached("tenancy.mfa_required_for_all_staff", self))

    @property
    def code6(self) -> str:
        """The 6-digit code with its check digit (JIS X 0402)."""
        return self.code + str(local_government_check_digit(self.code))

    def clean(self):
        if self.code and self.prefecture_id and not self.code.startswith(self.prefecture.code):
            raise ValidationError({"code": "コードの先頭2桁が都道府県コードと一致しません"})


class StaffUser(AbstractUser):
    """A member of staff. Everyone except the platform operator belongs to exactly one municipality."""

    role = models.CharField("役割", max_length=16, choices=Role.choices, default=Role.VIEWER)
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, null=True, blank=True, related_name="staff", verbose_name="所属団体"
    )
    display_name = models.CharField("表示名", max_length=60, blank=True)
    can_view_dv_protected = models.BooleanField(
        "支援措置対象者の住所を閲覧できる", default=False,
        help_text="DV等支援措置の対象者の住所を表示・出力できる職員のみ有効にします。",
    )
    failed_logins = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    must_change_password = models.BooleanField("次回ログイン時にパスワード変更が必要", default=False)

    class Meta:
        verbose_name = "職員"

    @property
    def is_locked(self) -> bool:
        from django.conf import settings
        from django.utils import timezone

        if self.locked_until is not None:
            return self.locked_until > timezone.now()
        return self.failed_logins >= settings.JICHITAI_LOCKOUT_THRESHOLD

    @property
    def mfa_required(self) -> bool:
        """Admins and the operator always; other staff when their municipality requires it."""
        if self.role in (Role.ADMIN, Role.OPERATOR):
            return True
        return bool(self.municipality_id and self.municipality.mfa_required_for_all_staff)

    def clean(self):
        if self.role == Role.OPERATOR and self.municipality_id:
            raise ValidationError("プラットフォーム運用者は自治体に所属できません")
        if self.role != Role.OPERATOR and not self.municipality_id and not self.is_superuser:
            raise ValidationError("職員は所属団体が必要です")

    def has_role_perm(self, perm: str) -> bool:
        return has_perm(self, perm)

    def __str__(self):
        return self.display_name or self.username


class NumberSequence(TenantModel):
    """Per-municipality number series (宛名番号, 世帯番号), incremented under a row lock."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=20)
    last_value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "name"], name="sequence_unique")]


def next_number(municipality, name: str, width: int = 10) -> str:
    """Next number of a series; call inside a transaction."""
    seq = NumberSequence.objects.select_for_update().filter(municipality=municipality, name=name).first()
    if seq is None:
        seq, _ = NumberSequence.objects.get_or_create(municipality=municipality, name=name)
        seq = NumberSequence.objects.select_for_update().get(pk=seq.pk)
    seq.last_value += 1
    NumberSequence.objects.filter(pk=seq.pk).update(last_value=seq.last_value)
    return str(seq.last_value).zfill(width)


class PermissionDefinition(models.Model):
    """One permission the code can check (`roles.Perm`), with its Japanese name."""

    code = models.CharField("権限コード", max_length=40, unique=True)
    label = models.CharField("権限名", max_length=60)

    class Meta:
        ordering = ["code"]
        verbose_name = "権限"

    def __str__(self):
        return self.label


class RoleDefinition(models.Model):
    """What a role grants: the 標準 (platform) definition of one `roles.Role`.

    Tier seam: a later tier engine adds 県版 / 個別 overrides (per prefecture / municipality) and resolves them in
    `roles.perms_for_role`; this table then holds the 標準 tier."""

    role = models.CharField("役割", max_length=16, choices=Role.choices, unique=True)
    label = models.CharField("役割名", max_length=40)
    permissions = models.ManyToManyField(PermissionDefinition, blank=True, related_name="roles",
                                         verbose_name="権限")

    class Meta:
        ordering = ["role"]
        verbose_name = "役割の定義"

    def __str__(self):
        return self.label


def _invalidate_role_cache(**kwargs):
    from django.db import transaction

    from .roles import clear_cache

    clear_cache()
    transaction.on_commit(clear_cache)  # a process that read the row inside the transaction forgets it too


for _model in (PermissionDefinition, RoleDefinition):
    models.signals.post_save.connect(_invalidate_role_cache, sender=_model, dispatch_uid=f"roles-save-{_model.__name__}")
    models.signals.post_delete.connect(_invalidate_role_cache, sender=_model,
                                       dispatch_uid=f"roles-delete-{_model.__name__}")
models.signals.m2m_changed.connect(_invalidate_role_cache, sender=RoleDefinition.permissions.through,
                                   dispatch_uid="roles-m2m")
