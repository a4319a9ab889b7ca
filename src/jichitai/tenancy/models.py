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

    class Meta:
        verbose_name = "職員"

    def clean(self):
        if self.role == Role.OPERATOR and self.municipality_id:
            raise ValidationError("プラットフォーム運用者は自治体に所属できません")
        if self.role != Role.OPERATOR and not self.municipality_id and not self.is_superuser:
            raise ValidationError("職員は所属団体が必要です")

    def has_role_perm(self, perm: str) -> bool:
        return has_perm(self, perm)

    @property
    def sees_dv_addresses(self) -> bool:
        return self.can_view_dv_protected and has_perm(self, Perm.VIEW_RESIDENTS)

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
