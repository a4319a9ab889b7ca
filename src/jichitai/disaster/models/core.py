"""Disasters and shelters.

A disaster (災害) is declared by a municipality for itself, or by the platform operator for several at once
(a typhoon over a prefecture). `Disaster` is the platform-level event (name, kind, start: no personal data);
`DisasterActivation` is a municipality's own record that the disaster applies to it (tenant row, RLS): a
municipality sees a disaster only through its activation. A disaster is "declared" for a municipality while its
activation has no end.

Shelters (避難所) are designated in normal times (指定避難所, 福祉避難所) and opened or closed during a disaster.
"""
from django.db import models

from jichitai.tenancy.scope import TenantModel


class DisasterKind(models.TextChoices):
    EARTHQUAKE = "earthquake", "地震"
    TSUNAMI = "tsunami", "津波"
    FLOOD = "flood", "風水害（洪水・内水）"
    STORM = "storm", "台風・暴風"
    LANDSLIDE = "landslide", "土砂災害"
    VOLCANO = "volcano", "火山"
    SNOW = "snow", "雪害"
    FIRE = "fire", "大規模火災"
    OTHER = "other", "その他"


class Disaster(models.Model):
    """The event itself, shared by every municipality it is declared for. No personal data; never read directly by
    tenant code — go through DisasterActivation (disaster.queries)."""

    name = models.CharField("災害名", max_length=100)
    kind = models.CharField("種別", max_length=20, choices=DisasterKind.choices)
    occurred_at = models.DateTimeField("発生日時")
    declared_by_operator = models.BooleanField("運用者が複数団体に宣言", default=False)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "災害"
        ordering = ["-occurred_at", "-id"]

    def __str__(self):
        return self.name


class DisasterActivation(TenantModel):
    """The disaster applies to this municipality (災害の宣言). Open while `ended_at` is empty."""

    disaster = models.ForeignKey(Disaster, on_delete=models.PROTECT, related_name="activations")
    declared_at = models.DateTimeField("宣言日時")
    declared_by = models.CharField("宣言者", max_length=150)
    ended_at = models.DateTimeField("終了日時", null=True, blank=True)
    ended_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "災害の宣言"
        ordering = ["-declared_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["municipality", "disaster"], name="activation_unique")]

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class ShelterKind(models.TextChoices):
    DESIGNATED = "designated", "指定避難所"
    WELFARE = "welfare", "福祉避難所"
    EMERGENCY = "emergency", "指定緊急避難場所"
    OTHER = "other", "その他の避難所"


class EvacuationPlace(models.TextChoices):
    """Where an evacuee stays (消防庁 安否情報 / 避難所以外の避難者)."""
    SHELTER = "shelter", "避難所"
    HOME = "home", "在宅避難"
    CAR = "car", "車中泊"
    OTHER = "other", "その他（親族宅など）"


class Shelter(TenantModel):
    """A shelter of the municipality. `is_open` is its current state; opening and closing are audited."""

    code = models.CharField("避難所コード", max_length=20)
    name = models.CharField("名称", max_length=100)
    kind = models.CharField("種別", max_length=20, choices=ShelterKind.choices, default=ShelterKind.DESIGNATED)
    address = models.CharField("所在地", max_length=200)
    latitude = models.DecimalField("緯度", max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField("経度", max_digits=9, decimal_places=6, null=True, blank=True)
    capacity_day = models.PositiveIntegerField("収容人数（昼間）")
    capacity_night = models.PositiveIntegerField("収容人数（夜間）")
    contact_name = models.CharField("連絡先（担当）", max_length=100, blank=True)
    contact_phone = models.CharField("連絡先（電話）", max_length=30, blank=True)
    is_open = models.BooleanField("開設中", default=False)
    opened_at = models.DateTimeField("開設日時", null=True, blank=True)
    closed_at = models.DateTimeField("閉鎖日時", null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "避難所"
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["municipality", "code"], name="shelter_code_unique")]

    def __str__(self):
        return self.name
