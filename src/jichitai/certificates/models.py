"""Certificates (住民票の写し and related): tiered settings, the issuance log, signing keys, verification log.

Settings are the platform tier engine's (`jichitai.platform.engine`, namespace "certificates"); `CertificateSetting`
is a proxy of its table, read and written only through the engine. Issuances and signing keys are tenant rows. The verification log is platform-level:
the public verification page has no tenant until the code is checked.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q

from jichitai.platform.models import SettingValue, Tier  # noqa: F401 (Tier: the engine's)
from jichitai.tenancy.scope import TenantModel


class CertificateSettingManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(namespace="certificates")


class CertificateSetting(SettingValue):
    """The certificate settings' rows of the tier engine's table (namespace "certificates"). Read and written only
    through the engine (certificates.config is its client); kept as a proxy so existing code and tests can count
    the certificate rows. Which tier wins: 個別 > 県版 > 標準追加 > 標準 (stored) > 標準 (built in)."""

    objects = CertificateSettingManager()

    class Meta:
        proxy = True

    def save(self, *args, **kwargs):
        self.namespace = "certificates"
        super().save(*args, **kwargs)


class Kind(models.TextChoices):
    RESIDENT_COPY = "resident_copy", "住民票の写し"
    REMOVED_COPY = "removed_copy", "除票の写し"
    ENTRY_CERTIFICATE = "entry_certificate", "住民票記載事項証明書"
    MOVE_OUT_CERTIFICATE = "move_out_certificate", "転出証明書"
    DISASTER_VICTIM = "disaster_victim", "罹災証明書"  # 災害対策基本法 第90条の2; issued from a damage assessment


class Layout(models.TextChoices):
    INDIVIDUAL = "individual", "個人票"
    HOUSEHOLD = "household", "世帯連記式"


class RequesterKind(models.TextChoices):
    SELF = "self", "本人"
    SAME_HOUSEHOLD = "same_household", "同一世帯"
    AGENT = "agent", "代理人"
    THIRD_PARTY = "third_party", "第三者"
    OFFICIAL = "official", "公用"


class IssuanceStatus(models.TextChoices):
    ISSUED = "issued", "発行"
    VOIDED = "voided", "取消"
    REFUSED = "refused", "交付拒否"


class Issuance(TenantModel):
    """One line of the issuance log (交付簿): an issued certificate, or a refused request (status refused, no number).
    Only `certificates.actions` writes these rows; void sets the status once and never deletes."""

    issue_no = models.CharField("発行番号", max_length=20, blank=True)
    public_id = models.CharField("照合ID", max_length=24, blank=True)
    kind = models.CharField("証明書の種類", max_length=24, choices=Kind.choices)
    layout = models.CharField("様式", max_length=12, choices=Layout.choices, default=Layout.INDIVIDUAL)
    options = models.JSONField("記載事項の選択", default=dict)
    person_ids = models.JSONField("対象者", default=list)       # Person pks, in print order
    subject_atena_nos = models.JSONField("対象者の宛名番号", default=list)
    household_no = models.CharField("世帯番号", max_length=10, blank=True)
    requester_kind = models.CharField("請求者の区分", max_length=16, choices=RequesterKind.choices)
    requester_name = models.CharField("請求者氏名", max_length=120, blank=True)
    purpose = models.CharField("使用目的", max_length=200, blank=True)
    copies = models.PositiveSmallIntegerField("通数", default=1)
    fee = models.PositiveIntegerField("手数料", default=0)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    issued_at = models.DateTimeField("処理日時")
    issue_date = models.DateField("発行日", null=True, blank=True)
    page_count = models.PositiveSmallIntegerField("枚数", default=0)
    pdf_sha256 = models.CharField("PDFのSHA-256", max_length=64, blank=True)
    key_id = models.PositiveIntegerField("署名鍵番号", null=True, blank=True)
    status = models.CharField("状態", max_length=10, choices=IssuanceStatus.choices, default=IssuanceStatus.ISSUED)
    refusal_reason = models.CharField("拒否理由", max_length=200, blank=True)
    void_reason = models.CharField("取消理由", max_length=200, blank=True)
    voided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    voided_at = models.DateTimeField("取消日時", null=True, blank=True)
    reprint_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reprints")
    # one per confirmation page: a second 「発行する」 (double click, back and resubmit) finds the first issuance
    request_token = models.CharField(max_length=32, blank=True)
    # set on certificates issued by an offline kit (printed 「オフライン発行」; recorded here when the kit syncs)
    offline_device = models.CharField("オフライン発行の端末", max_length=64, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["municipality", "issue_no"], condition=~Q(issue_no=""),
                                    name="issuance_no_unique"),
            models.UniqueConstraint(fields=["public_id"], condition=~Q(public_id=""), name="issuance_public_id"),
            models.UniqueConstraint(fields=["municipality", "request_token"], condition=~Q(request_token=""),
                                    name="issuance_request_token"),
        ]
        indexes = [models.Index(fields=["municipality", "issued_at"], name="issuance_time")]


class SigningKey(TenantModel):
    """A municipality's HMAC-SHA256 key for certificate codes. Old keys stay so that old certificates still verify."""

    key_id = models.PositiveIntegerField("鍵番号")
    secret = models.CharField(max_length=64)  # hex, 32 bytes
    created_at = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "key_id"], name="signing_key_unique")]


class VerificationResult(models.TextChoices):
    VALID = "valid", "有効"
    INVALID = "invalid", "無効"
    VOIDED = "voided", "取消済み"
    RATE_LIMITED = "rate_limited", "回数制限"


class VerificationLog(models.Model):
    """Every request to the public verification page (platform-level; the code may name no real municipality)."""

    at = models.DateTimeField(db_index=True)
    client = models.CharField("接続元", max_length=64)
    code = models.CharField("照合コード", max_length=120)
    result = models.CharField(max_length=16, choices=VerificationResult.choices)
    municipality = models.ForeignKey("tenancy.Municipality", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    issuance = models.ForeignKey(Issuance, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["client", "at"], name="verification_client_at")]
