"""避難行動要支援者名簿, 被災者台帳, 住家の被害認定, 援護の実施状況.

避難行動要支援者名簿 (災害対策基本法 第49条の10〜第49条の13): the persons of the register who need help to evacuate.
The statutory items (第49条の10 第2項) are 氏名, 生年月日, 性別, 住所又は居所 — read from the register, never copied —,
電話番号その他の連絡先, 避難支援等を必要とする事由 and what the mayor deems necessary. The 事由 are recorded as the
attributes the Cabinet Office's guideline (「避難行動要支援者の避難行動支援に関する取組指針」, 平成25年8月, 令和3年5月改定,
「名簿に掲載する者の範囲」) names as typical criteria: 要介護認定 (要介護3〜5 in most municipalities), 身体障害者手帳
(1・2級, with the 障害の種別), 療育手帳 (A), 精神障害者保健福祉手帳 (1・2級), 難病, and the 要配慮者 of 第8条第2項第15号
(妊産婦, 乳幼児); 高齢者のみ世帯 is computed from the register (support_queries), not stored.
Consent for sharing in normal times (第49条の11 第2項) is recorded with its date; in a disaster the list is shared
without it (第3項) — that rule lives in support_queries.provision_entries().
個別避難計画 (第49条の14, 2021): 避難支援等実施者, 避難先, 避難経路・方法, 留意事項.

被災者台帳 (第90条の3, 施行規則 第8条の5): per declared disaster and household. Names, birth dates, sex, address and
the household's composition come from the register; the ledger row holds 住所又は居所 (where the household stays now),
連絡先, その他の被害の状況, the consent to provide and where it was provided. 住家の被害 is `DamageAssessment`
(append-only: a re-survey is a new row), 援護の実施状況 is `ReliefMeasure` (append-only), each provision of the
ledger's information to someone outside the municipality is `LedgerProvision` (append-only).
"""
from decimal import Decimal

from django.db import models

from jichitai.tenancy.scope import AppendOnlyQuerySet, AppendOnlyTenantManager, TenantModel


class CareLevel(models.TextChoices):
    NONE = "", "なし"
    SUPPORT1 = "support1", "要支援1"
    SUPPORT2 = "support2", "要支援2"
    CARE1 = "care1", "要介護1"
    CARE2 = "care2", "要介護2"
    CARE3 = "care3", "要介護3"
    CARE4 = "care4", "要介護4"
    CARE5 = "care5", "要介護5"


class DisabilityType(models.TextChoices):
    NONE = "", "なし"
    VISUAL = "visual", "視覚障害"
    HEARING = "hearing", "聴覚・平衡機能障害"
    SPEECH = "speech", "音声・言語・そしゃく機能障害"
    LIMB = "limb", "肢体不自由"
    INTERNAL = "internal", "内部障害"


class ConsentStatus(models.TextChoices):
    UNKNOWN = "unknown", "未確認"
    AGREED = "agreed", "同意"
    REFUSED = "refused", "不同意"


class VulnerablePerson(TenantModel):
    """One person on the 避難行動要支援者名簿. 氏名・生年月日・性別・住所 are the register's (person)."""

    person = models.ForeignKey("residents.Person", on_delete=models.PROTECT, related_name="+", verbose_name="住民")
    care_level = models.CharField("要介護度", max_length=10, choices=CareLevel.choices, blank=True, default="")
    physical_disability_grade = models.PositiveSmallIntegerField("身体障害者手帳の等級", null=True, blank=True)
    disability_type = models.CharField("障害の種別", max_length=10, choices=DisabilityType.choices, blank=True,
                                       default="")
    intellectual_disability = models.CharField("療育手帳", max_length=2, blank=True, default="")  # A / B
    mental_disability_grade = models.PositiveSmallIntegerField("精神障害者保健福祉手帳の等級", null=True, blank=True)
    intractable_disease = models.BooleanField("難病", default=False)
    pregnant = models.BooleanField("妊産婦", default=False)
    infant = models.BooleanField("乳幼児", default=False)
    other_reason = models.CharField("その他の事由", max_length=200, blank=True)
    phone = models.CharField("電話番号", max_length=30, blank=True)
    other_contact = models.CharField("その他の連絡先", max_length=120, blank=True)
    consent = models.CharField("平常時の名簿情報の提供への同意", max_length=10, choices=ConsentStatus.choices,
                               default=ConsentStatus.UNKNOWN)
    consent_date = models.DateField("同意（不同意）の日", null=True, blank=True)
    # 個別避難計画 (第49条の14)
    plan_destination = models.CharField("避難先", max_length=120, blank=True)
    plan_route = models.CharField("避難経路・避難方法", max_length=300, blank=True)
    plan_notes = models.CharField("留意事項", max_length=300, blank=True)
    plan_date = models.DateField("個別避難計画の作成日", null=True, blank=True)
    is_listed = models.BooleanField("名簿に掲載中", default=True)
    delisted_reason = models.CharField("掲載終了の理由", max_length=100, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_by = models.CharField(max_length=150)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "避難行動要支援者"
        constraints = [models.UniqueConstraint(fields=["municipality", "person"], name="vulnerable_person_unique")]


class SupporterKind(models.TextChoices):
    """避難支援等関係者 (第49条の11 第2項)."""
    WELFARE_COMMISSIONER = "welfare_commissioner", "民生委員"
    FIRE_CORPS = "fire_corps", "消防団"
    FIRE_DEPARTMENT = "fire_department", "消防機関"
    POLICE = "police", "警察"
    VOLUNTARY_ORG = "voluntary_org", "自主防災組織"
    SOCIAL_WELFARE_COUNCIL = "social_welfare_council", "社会福祉協議会"
    NEIGHBOURHOOD = "neighbourhood", "自治会・町内会"
    NEIGHBOUR = "neighbour", "近隣住民・親族"
    CARE_MANAGER = "care_manager", "介護支援専門員等"
    OTHER = "other", "その他"


class Supporter(TenantModel):
    """An 避難支援等関係者 for one person; `implements_plan`: 個別避難計画の避難支援等実施者."""

    vulnerable = models.ForeignKey(VulnerablePerson, on_delete=models.CASCADE, related_name="supporters")
    kind = models.CharField("区分", max_length=24, choices=SupporterKind.choices)
    name = models.CharField("氏名又は名称", max_length=100)
    contact = models.CharField("連絡先", max_length=100, blank=True)
    implements_plan = models.BooleanField("避難支援等実施者（個別避難計画）", default=False)

    class Meta:
        verbose_name = "避難支援等関係者"
        ordering = ["id"]


class DamageGrade(models.TextChoices):
    """被害の程度 (災害に係る住家の被害認定基準運用指針, 内閣府)."""
    TOTAL = "total", "全壊"
    LARGE_HALF = "large_half", "大規模半壊"
    MEDIUM_HALF = "medium_half", "中規模半壊"
    HALF = "half", "半壊"
    SEMI_HALF = "semi_half", "準半壊"
    PARTIAL = "partial", "準半壊に至らない（一部損壊）"


# 損害割合 (%) lower bounds, highest first: 50%以上 全壊, 40%以上50%未満 大規模半壊, 30%以上40%未満 中規模半壊,
# 20%以上30%未満 半壊, 10%以上20%未満 準半壊, 10%未満 準半壊に至らない（一部損壊）.
GRADE_THRESHOLDS = ((Decimal("50"), DamageGrade.TOTAL), (Decimal("40"), DamageGrade.LARGE_HALF),
                    (Decimal("30"), DamageGrade.MEDIUM_HALF), (Decimal("20"), DamageGrade.HALF),
                    (Decimal("10"), DamageGrade.SEMI_HALF), (Decimal("0"), DamageGrade.PARTIAL))


def grade_for_ratio(ratio) -> str:
    """The 被害の程度 for a 損害割合 in percent (0 < ratio ≤ 100)."""
    ratio = Decimal(str(ratio))
    for bound, grade in GRADE_THRESHOLDS:
        if ratio >= bound:
            return grade
    raise ValueError("損害割合は0以上です")


class VictimLedger(TenantModel):
    """被災者台帳: one household's entry for one disaster."""

    disaster = models.ForeignKey("disaster.Disaster", on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey("residents.Household", on_delete=models.PROTECT, related_name="+")
    whereabouts = models.CharField("現在の居所", max_length=200, blank=True,
                                   help_text="住所と異なる場合（避難所、親族宅など）")
    phone = models.CharField("電話番号その他の連絡先", max_length=100, blank=True)
    other_damage = models.CharField("その他の被害の状況", max_length=300, blank=True,
                                    help_text="人的被害、家財、事業所など")
    consent_to_provide = models.BooleanField("台帳情報を市町村以外の者に提供することへの同意", default=False)
    consent_recipients = models.CharField("同意を得た提供先", max_length=200, blank=True)
    consent_date = models.DateField("同意の日", null=True, blank=True)
    notes = models.CharField("市町村長が必要と認める事項", max_length=300, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_by = models.CharField(max_length=150)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "被災者台帳"
        constraints = [models.UniqueConstraint(fields=["municipality", "disaster", "household"],
                                               name="victim_ledger_unique")]


class SurveyKind(models.TextChoices):
    FIRST = "first", "第1次調査"
    SECOND = "second", "第2次調査"
    RESURVEY = "resurvey", "再調査"


class DamageAssessment(TenantModel):
    """住家の被害認定 of a household's dwelling. Append-only: a re-survey is a new row; the latest one counts."""

    ledger = models.ForeignKey(VictimLedger, on_delete=models.PROTECT, related_name="assessments")
    building_address = models.CharField("被災住家の所在地", max_length=200)
    survey_kind = models.CharField("調査の別", max_length=10, choices=SurveyKind.choices)
    surveyed_on = models.DateField("調査日")
    surveyor = models.CharField("調査員", max_length=100)
    damage_ratio = models.DecimalField("損害割合（%）", max_digits=4, decimal_places=1)
    grade = models.CharField("被害の程度", max_length=12, choices=DamageGrade.choices)
    flooding = models.CharField("浸水の状況", max_length=40, blank=True)
    note = models.CharField("備考", max_length=300, blank=True)
    recorded_by = models.CharField(max_length=150)
    recorded_at = models.DateTimeField()

    objects = AppendOnlyTenantManager()
    all_tenants = models.Manager.from_queryset(AppendOnlyQuerySet)()

    class Meta:
        verbose_name = "住家の被害認定"
        ordering = ["ledger", "recorded_at", "id"]


class ReliefKind(models.TextChoices):
    SHELTER = "shelter", "避難所への受入れ"
    SUPPLIES = "supplies", "食料・物資の供与"
    TEMP_HOUSING = "temp_housing", "応急仮設住宅の供与"
    EMERGENCY_REPAIR = "emergency_repair", "住宅の応急修理"
    RECONSTRUCTION_GRANT = "reconstruction_grant", "被災者生活再建支援金"
    CONDOLENCE = "condolence", "災害弔慰金・災害障害見舞金"
    LOAN = "loan", "災害援護資金の貸付"
    DONATION = "donation", "義援金の配分"
    REDUCTION = "reduction", "税・保険料等の減免・猶予"
    OTHER = "other", "その他"


class ReliefMeasure(TenantModel):
    """援護の実施の状況: one measure given to the household. Append-only (a correction is a new entry)."""

    ledger = models.ForeignKey(VictimLedger, on_delete=models.PROTECT, related_name="relief")
    kind = models.CharField("援護の種類", max_length=24, choices=ReliefKind.choices)
    given_on = models.DateField("実施日")
    amount = models.PositiveIntegerField("金額（円）", null=True, blank=True)
    note = models.CharField("内容", max_length=300, blank=True)
    recorded_by = models.CharField(max_length=150)
    recorded_at = models.DateTimeField()

    objects = AppendOnlyTenantManager()
    all_tenants = models.Manager.from_queryset(AppendOnlyQuerySet)()

    class Meta:
        verbose_name = "援護の実施状況"
        ordering = ["ledger", "given_on", "id"]


class LedgerProvision(TenantModel):
    """台帳情報の提供 (施行規則 第8条の5 第5号): to whom and when the ledger's information was provided."""

    ledger = models.ForeignKey(VictimLedger, on_delete=models.PROTECT, related_name="provisions")
    recipient = models.CharField("提供先", max_length=200)
    purpose = models.CharField("利用目的", max_length=200)
    provided_at = models.DateTimeField("提供日時")
    recorded_by = models.CharField(max_length=150)

    objects = AppendOnlyTenantManager()
    all_tenants = models.Manager.from_queryset(AppendOnlyQuerySet)()

    class Meta:
        verbose_name = "台帳情報の提供"
        ordering = ["ledger", "provided_at", "id"]


__all__ = ["CareLevel", "ConsentStatus", "DamageAssessment", "DamageGrade", "DisabilityType", "LedgerProvision",
           "ReliefKind", "ReliefMeasure", "Supporter", "SupporterKind", "SurveyKind", "VictimLedger",
           "VulnerablePerson", "grade_for_ratio"]
