"""Running the shared cloud together: the tier engine's values, requirements (fit-gap), costs (割り勘), advisories
(CEPTOAR) and contract exit. Written only by `platform.actions` / `platform.engine`; read by `platform.queries` /
`platform.engine`."""
from django.db import models
from django.db.models import Q

from jichitai.tenancy.scope import AppendOnlyQuerySet, AppendOnlyTenantManager, TenantModel


class Tier(models.TextChoices):
    """Which tier a value comes from. Precedence (highest first): 個別 > 県版 > 標準追加 > 標準 > 組込み."""

    STANDARD = "standard", "標準"
    STANDARD_ADDED = "standard_added", "標準追加"
    PREFECTURE = "prefecture", "県版"
    MUNICIPALITY = "municipality", "個別"


class SettingValue(models.Model):
    """One value of one declared setting at one tier (the engine's registry says which keys exist). Read and written
    only by `platform.engine`. 標準・標準追加 rows have neither prefecture nor municipality, 県版 rows a prefecture,
    個別 rows a municipality (so not a tenant model: guard/db.py EXEMPT)."""

    namespace = models.CharField("分野", max_length=40)
    key = models.CharField("設定項目", max_length=60)
    tier = models.CharField("階層", max_length=16, choices=Tier.choices)
    prefecture = models.ForeignKey("tenancy.Prefecture", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    municipality = models.ForeignKey("tenancy.Municipality", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    value = models.JSONField("値")
    set_by = models.CharField("設定者", max_length=150)
    set_by_role = models.CharField("設定者の役割", max_length=16, blank=True)
    set_at = models.DateTimeField("設定日時")
    requirement = models.CharField("対応する要求事項", max_length=40, blank=True, default="")
    approved_by = models.CharField("承認者", max_length=150, blank=True, default="")
    approved_at = models.DateTimeField("承認日時", null=True, blank=True)

    class Meta:
        db_table = "platform_setting_value"
        constraints = [
            models.UniqueConstraint(fields=["namespace", "key"], condition=Q(tier="standard"),
                                    name="setting_value_standard"),
            models.UniqueConstraint(fields=["namespace", "key"], condition=Q(tier="standard_added"),
                                    name="setting_value_standard_added"),
            models.UniqueConstraint(fields=["namespace", "key", "prefecture"], condition=Q(tier="prefecture"),
                                    name="setting_value_prefecture"),
            models.UniqueConstraint(fields=["namespace", "key", "municipality"], condition=Q(tier="municipality"),
                                    name="setting_value_municipality"),
            models.CheckConstraint(
                condition=(Q(tier__in=["standard", "standard_added"], prefecture__isnull=True,
                             municipality__isnull=True)
                           | Q(tier="prefecture", prefecture__isnull=False, municipality__isnull=True)
                           | Q(tier="municipality", prefecture__isnull=True, municipality__isnull=False)),
                name="setting_value_tier_owner"),
        ]
        indexes = [models.Index(fields=["namespace", "key"], name="setting_value_key")]


class ProposalStatus(models.TextChoices):
    PENDING = "pending", "承認待ち"
    APPROVED = "approved", "承認済み"
    REJECTED = "rejected", "却下"


class SettingProposal(models.Model):
    """A 個別 value waiting for approval (by the operator or the prefecture's coordinator, a setting). Approved, it
    becomes the SettingValue; the proposal stays as the record. Not a tenant model: the approver belongs to another
    municipality or to none (guard/db.py EXEMPT); read and written only by `platform.engine`."""

    namespace = models.CharField(max_length=40)
    key = models.CharField(max_length=60)
    municipality = models.ForeignKey("tenancy.Municipality", on_delete=models.PROTECT, related_name="+")
    value = models.JSONField()
    requirement = models.CharField(max_length=40, blank=True, default="")
    reason = models.CharField("理由", max_length=500, blank=True, default="")
    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PENDING)
    decided_by = models.CharField(max_length=150, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        db_table = "platform_setting_proposal"
        ordering = ["-requested_at", "-id"]


# ------------------------------------------------------------------------------------------- requirements


class BusinessArea(models.TextChoices):
    RESIDENTS = "residents", "住民情報"
    TAX = "tax", "税"
    HEALTH_INSURANCE = "health_insurance", "国民健康保険"
    WELFARE = "welfare", "福祉"
    FINANCE = "finance", "財務会計"
    PAYROLL = "payroll", "人事給与"
    DOCUMENTS = "documents", "文書管理"


class Classification(models.TextChoices):
    """The working group's verdict on a requirement (seed p.7, ＜機能の分類＞)."""

    UNCLASSIFIED = "", "未分類"
    STANDARD = "standard", "標準"
    STANDARD_ADDED = "standard_added", "標準追加"
    PREFECTURE = "prefecture", "県版"
    INDIVIDUAL = "individual", "個別"
    OUT_OF_SCOPE = "out_of_scope", "対象外"


class Requirement(TenantModel):
    """One requirement (要求事項) a municipality brought to the shared package, by business area."""

    code = models.CharField("要求番号", max_length=40)
    area = models.CharField("業務", max_length=20, choices=BusinessArea.choices)
    text = models.CharField("要求事項", max_length=1000)
    submitted_by = models.CharField(max_length=150)
    submitted_at = models.DateTimeField()
    classification = models.CharField("分類", max_length=16, choices=Classification.choices, blank=True,
                                      default="")
    setting_keys = models.JSONField("対応する設定", default=list, blank=True)
    classified_by = models.CharField(max_length=150, blank=True, default="")
    classified_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField("協議の記録", max_length=1000, blank=True, default="")

    class Meta:
        db_table = "platform_requirement"
        constraints = [models.UniqueConstraint(fields=["municipality", "code"], name="requirement_code_unique")]
        indexes = [models.Index(fields=["municipality", "classification"], name="requirement_class")]


# ------------------------------------------------------------------------------------------- 割り勘


class CostCategory(models.TextChoices):
    DATA_CENTRE = "data_centre", "データセンター"
    LICENCES = "licences", "ライセンス"
    OPERATIONS = "operations", "運用"
    DEVELOPMENT = "development", "標準追加の開発"


class AllocationRule(models.TextChoices):
    EQUAL = "equal", "均等割"
    POPULATION = "population", "人口割"
    USAGE = "usage", "利用割"


class CostItem(models.Model):
    """One annual cost of the shared platform (platform-level, no municipality)."""

    fiscal_year = models.PositiveIntegerField("年度")
    category = models.CharField("費目", max_length=20, choices=CostCategory.choices)
    label = models.CharField("内容", max_length=100)
    amount_yen = models.BigIntegerField("年額（円）")
    rule = models.CharField("按分方法", max_length=12, choices=AllocationRule.choices)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "platform_cost_item"
        ordering = ["fiscal_year", "category", "id"]


# ------------------------------------------------------------------------------------------- request metrics

LATENCY_BUCKETS_MS = (100, 250, 500, 1000, 2500)  # upper bounds; the last bucket is "slower"


class RequestMetric(models.Model):
    """Aggregated request counts per municipality, day and kind (web / api / probe): never one row per request.
    The middleware adds to these counters in memory and flushes them with one UPDATE per counter row (platform.
    metrics). Platform-level measurement, no personal data (guard EXEMPT: the operator's SLA report reads it)."""

    municipality = models.ForeignKey("tenancy.Municipality", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    day = models.DateField()
    kind = models.CharField(max_length=8)
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)  # 5xx answers (and failed probes)
    total_ms = models.BigIntegerField(default=0)
    b0 = models.BigIntegerField(default=0)  # <= 100 ms
    b1 = models.BigIntegerField(default=0)  # <= 250 ms
    b2 = models.BigIntegerField(default=0)  # <= 500 ms
    b3 = models.BigIntegerField(default=0)  # <= 1000 ms
    b4 = models.BigIntegerField(default=0)  # <= 2500 ms
    b5 = models.BigIntegerField(default=0)  # slower

    class Meta:
        db_table = "platform_request_metric"
        constraints = [models.UniqueConstraint(fields=["municipality", "day", "kind"], name="request_metric_once"),
                       models.UniqueConstraint(fields=["day", "kind"], condition=Q(municipality__isnull=True),
                                               name="request_metric_platform_once")]


# ------------------------------------------------------------------------------------------- incidents (SLA)


class Incident(models.Model):
    """One service incident in the register (障害台帳): what failed (a 責任分界点 category, which names the responsible
    party), whom it affects (every municipality, or the listed codes), impact, and its timeline (IncidentEvent)."""

    title = models.CharField("件名", max_length=200)
    category = models.CharField("区分", max_length=24)
    responsible = models.CharField("責任を負う者", max_length=16)
    impact = models.CharField("影響", max_length=10, default="outage")  # outage 停止 / degraded 性能低下
    affected = models.JSONField("影響を受ける団体", default=list, blank=True)  # [] = all municipalities
    started_at = models.DateTimeField("発生日時")
    resolved_at = models.DateTimeField("復旧日時", null=True, blank=True)
    opened_by = models.CharField(max_length=150)

    class Meta:
        db_table = "platform_incident"
        ordering = ["-started_at", "-id"]

    def affects(self, code: str) -> bool:
        return not self.affected or code in self.affected


class IncidentEvent(models.Model):
    """One entry of an incident's timeline (発生・経過・通知・復旧). Written only by platform.actions, never changed:
    append-only (the database's triggers refuse UPDATE and DELETE, jichitai.guard; the queryset and the row refuse
    them in Python)."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=12)  # opened, update, notified, resolved
    text = models.CharField(max_length=1000)
    by = models.CharField(max_length=150)

    objects = models.Manager.from_queryset(AppendOnlyQuerySet)()

    class Meta:
        db_table = "platform_incident_event"
        ordering = ["at", "id"]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("追記専用の記録は変更できません / append-only rows are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("追記専用の記録は削除できません / append-only rows are never deleted")


# ------------------------------------------------------------------------------------------- CEPTOAR


class AdvisoryKind(models.TextChoices):
    EARLY_WARNING = "early_warning", "早期警戒情報"
    ALERT = "alert", "注意喚起"


class Advisory(models.Model):
    """An advisory the operator broadcast (自治体CEPTOAR). Platform-level; recipients below."""

    kind = models.CharField("種別", max_length=16, choices=AdvisoryKind.choices)
    title = models.CharField("件名", max_length=200)
    body = models.TextField("内容")
    severity = models.CharField("重要度", max_length=8, default="中")
    issued_by = models.CharField(max_length=150)
    issued_at = models.DateTimeField()

    class Meta:
        db_table = "platform_advisory"
        ordering = ["-issued_at", "-id"]


class AdvisoryRecipient(TenantModel):
    """One municipality an advisory went to, and its acknowledgement (確認)."""

    advisory = models.ForeignKey(Advisory, on_delete=models.PROTECT, related_name="recipients")
    acknowledged_by = models.CharField(max_length=150, blank=True, default="")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    action_taken = models.CharField("対応状況", max_length=500, blank=True, default="")

    class Meta:
        db_table = "platform_advisory_recipient"
        constraints = [models.UniqueConstraint(fields=["advisory", "municipality"], name="advisory_once")]


class IncidentKind(models.TextChoices):
    LEAK = "leak", "情報漏えい"
    IT_FAILURE = "it_failure", "IT障害"


class IncidentReport(TenantModel):
    """An incident a municipality reported to the operator in the structured form (append-only: corrections are new
    reports that name the earlier one)."""

    kind = models.CharField("種別", max_length=16, choices=IncidentKind.choices)
    occurred_at = models.DateTimeField("発生日時")
    detected_at = models.DateTimeField("覚知日時")
    summary = models.CharField("概要", max_length=500)
    affected_systems = models.CharField("影響を受けたシステム", max_length=200)
    persons_affected = models.PositiveIntegerField("影響を受けた人数（概数）", default=0)
    personal_data = models.BooleanField("個人情報を含む", default=False)
    contained = models.BooleanField("封じ込め済み", default=False)
    measures = models.CharField("講じた措置", max_length=1000, blank=True, default="")
    reported_by = models.CharField(max_length=150)
    reported_at = models.DateTimeField()
    supersedes = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    objects = AppendOnlyTenantManager()
    all_tenants = models.Manager.from_queryset(AppendOnlyQuerySet)()

    class Meta:
        db_table = "platform_incident_report"
        ordering = ["-reported_at", "-id"]


# ------------------------------------------------------------------------------------------- licences


class LicenceBasis(models.TextChoices):
    PHYSICAL_HOST = "physical_host", "物理サーバ1台ごと"
    VCPU = "vcpu", "仮想CPU（vCPU）ごと"
    USER = "user", "利用者（職員）ごと"
    TENANT = "tenant", "団体（テナント）ごと"


class Licence(models.Model):
    """One software licence of the platform with its basis and entitlement (how many hosts / vCPUs / users /
    tenants it covers). Checked against the deployment's actual resources by platform.licences."""

    product = models.CharField("製品", max_length=100)
    vendor = models.CharField("提供者", max_length=100)
    basis = models.CharField("基準", max_length=16, choices=LicenceBasis.choices)
    entitlement = models.PositiveIntegerField("許諾数")
    note = models.CharField("備考", max_length=300, blank=True, default="")
    added_by = models.CharField(max_length=150)
    added_at = models.DateTimeField()

    class Meta:
        db_table = "platform_licence"
        ordering = ["product", "id"]


# ------------------------------------------------------------------------------------------- security evidence


class DependencyAudit(models.Model):
    """The result of the operator's dependency audit of the lock (`jichitai platform_dependency_audit`), shown by
    the evidence page: it is never run at page-render time (it needs the vulnerability database online)."""

    run_at = models.DateTimeField()
    run_by = models.CharField(max_length=150)
    tool = models.CharField(max_length=100)
    lock_sha256 = models.CharField(max_length=64)
    packages = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False)  # ran and found no known vulnerability
    vulnerabilities = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        db_table = "platform_dependency_audit"
        ordering = ["-run_at", "-id"]


# ------------------------------------------------------------------------------------------- contract exit


class ExitStatus(models.TextChoices):
    STARTED = "started", "開始"
    EXPORTED = "exported", "出力済み"
    CONFIRMED = "confirmed", "受領確認済み"
    DELETED = "deleted", "削除済み"


class ContractExit(models.Model):
    """A municipality leaving the platform (契約終了後の処理): export → the municipality's confirmation → verified
    deletion with a signed certificate. The platform's own record: it outlives the tenant's data (guard EXEMPT)."""

    municipality = models.ForeignKey("tenancy.Municipality", on_delete=models.PROTECT, related_name="+")
    municipality_code = models.CharField(max_length=5)
    municipality_name = models.CharField(max_length=60)
    reason = models.CharField("理由", max_length=500)
    status = models.CharField(max_length=10, choices=ExitStatus.choices, default=ExitStatus.STARTED)
    started_by = models.CharField(max_length=150)
    started_at = models.DateTimeField()
    archive_path = models.CharField(max_length=500, blank=True, default="")
    archive_sha256 = models.CharField(max_length=64, blank=True, default="")
    manifest = models.JSONField(default=dict, blank=True)
    exported_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.CharField(max_length=150, blank=True, default="")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deletion_counts = models.JSONField(default=dict, blank=True)
    certificate = models.JSONField(default=dict, blank=True)  # the signed statement, canonical JSON below
    certificate_signature = models.CharField(max_length=200, blank=True, default="")
    certificate_key_id = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        db_table = "platform_contract_exit"
        ordering = ["-started_at", "-id"]
