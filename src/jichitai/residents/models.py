"""The resident register (住民記録): households, persons and their append-only history.

`Person` holds the current state of each 住民票 (one row per person, 除票 included, never deleted);
`PersonHistory` holds a full snapshot per change (履歴番号 1..n) and is append-only. The current row is the
projection of the latest snapshot, kept for search; `version` guards against two clerks overwriting each other.
"""
from django.db import models

from jichitai.tenancy.scope import AppendOnlyQuerySet, AppendOnlyTenantManager, TenantModel


class KeyField(models.CharField):
    """A derived search key. Byte-order ("C") collation on PostgreSQL so prefix ranges use the index;
    SQLite's default BINARY collation already compares by code point."""

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "jichitai.residents.models.KeyField", args, kwargs


class Sex(models.TextChoices):
    MALE = "1", "男"
    FEMALE = "2", "女"


class Status(models.TextChoices):
    RESIDENT = "resident", "住民"
    REMOVED = "removed", "除票"


class ChangeKind(models.TextChoices):
    """異動事由 (the subset this release records), with their group: 記載, 消除 or 修正."""

    BIRTH = "birth", "出生"
    MOVE_IN = "move_in", "転入"
    MOVE_WITHIN = "move_within", "転居"
    MOVE_OUT_PLANNED = "move_out_planned", "転出（予定）"
    MOVE_OUT_CONFIRMED = "move_out_confirmed", "転出（確定）"
    DEATH = "death", "死亡"
    HEAD_CHANGE = "head_change", "世帯主変更"
    HOUSEHOLD_SPLIT = "household_split", "世帯分離"
    HOUSEHOLD_MERGE = "household_merge", "世帯合併"
    EX_OFFICIO_ENTRY = "ex_officio_entry", "職権記載"
    EX_OFFICIO_CORRECTION = "ex_officio_correction", "職権修正"
    EX_OFFICIO_REMOVAL = "ex_officio_removal", "職権消除"


CHANGE_GROUP = {
    ChangeKind.BIRTH: "記載", ChangeKind.MOVE_IN: "記載", ChangeKind.EX_OFFICIO_ENTRY: "記載",
    ChangeKind.MOVE_OUT_PLANNED: "消除", ChangeKind.MOVE_OUT_CONFIRMED: "消除", ChangeKind.DEATH: "消除",
    ChangeKind.EX_OFFICIO_REMOVAL: "消除",
    ChangeKind.MOVE_WITHIN: "修正", ChangeKind.HEAD_CHANGE: "修正", ChangeKind.HOUSEHOLD_SPLIT: "修正",
    ChangeKind.HOUSEHOLD_MERGE: "修正", ChangeKind.EX_OFFICIO_CORRECTION: "修正",
}


class Household(TenantModel):
    household_no = models.CharField("世帯番号", max_length=10)
    head = models.ForeignKey("Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name="世帯主")
    is_active = models.BooleanField("現存", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "household_no"], name="household_no_unique")]
        verbose_name = "世帯"

    def __str__(self):
        return f"世帯 {self.household_no}"


# Fields copied into every history snapshot (the register's content).
SNAPSHOT_FIELDS = [
    "atena_no", "resident_code", "individual_number", "family_name", "given_name", "family_name_kana",
    "given_name_kana", "former_family_name", "former_family_name_kana", "birth_date", "sex", "household_no",
    "relationship", "is_head", "honseki", "hittosha", "became_resident_date", "address", "address_katagaki",
    "postal_code", "address_date", "notification_date", "previous_address",
    "elector", "nhi", "late_elderly_medical", "care_insurance", "national_pension", "child_allowance",
    "adult_ward", "dv_protected",
    "is_foreign", "nationality", "foreign_category", "residence_status", "period_of_stay", "stay_expiry",
    "residence_card_no", "alias_name", "alias_name_kana",
    "status", "removal_reason", "removal_date", "move_out_state", "move_out_destination", "move_in_notice_date",
]


class Person(TenantModel):
    atena_no = models.CharField("宛名番号", max_length=15)
    resident_code = models.CharField("住民票コード", max_length=11)
    individual_number = models.CharField("個人番号", max_length=12, blank=True)

    family_name = models.CharField("氏", max_length=60)
    given_name = models.CharField("名", max_length=60, blank=True)
    family_name_kana = models.CharField("氏フリガナ", max_length=120, blank=True)
    given_name_kana = models.CharField("名フリガナ", max_length=120, blank=True)
    former_family_name = models.CharField("旧氏", max_length=60, blank=True)
    former_family_name_kana = models.CharField("旧氏フリガナ", max_length=120, blank=True)
    birth_date = models.DateField("生年月日")
    sex = models.CharField("性別", max_length=1, choices=Sex.choices)

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="members", verbose_name="世帯")
    relationship = models.CharField("続柄", max_length=30)
    is_head = models.BooleanField("世帯主", default=False)

    honseki = models.CharField("本籍", max_length=200, blank=True)
    hittosha = models.CharField("筆頭者", max_length=60, blank=True)
    became_resident_date = models.DateField("住民となった年月日", null=True, blank=True)
    postal_code = models.CharField("郵便番号", max_length=8, blank=True)
    address = models.CharField("住所", max_length=200, help_text="団体名より後（町字・番地）")
    address_katagaki = models.CharField("方書", max_length=120, blank=True)
    address_date = models.DateField("住所を定めた年月日", null=True, blank=True)
    notification_date = models.DateField("届出日", null=True, blank=True)
    previous_address = models.CharField("前住所", max_length=200, blank=True)

    elector = models.BooleanField("選挙人名簿", default=False)
    nhi = models.BooleanField("国民健康保険", default=False)
    late_elderly_medical = models.BooleanField("後期高齢者医療", default=False)
    care_insurance = models.BooleanField("介護保険", default=False)
    national_pension = models.BooleanField("国民年金", default=False)
    child_allowance = models.BooleanField("児童手当", default=False)
    adult_ward = models.BooleanField("成年被後見人", default=False)
    dv_protected = models.BooleanField("DV等支援措置", default=False)

    is_foreign = models.BooleanField("外国人住民", default=False)
    nationality = models.CharField("国籍・地域", max_length=40, blank=True)
    foreign_category = models.CharField("30条の45区分", max_length=40, blank=True)
    residence_status = models.CharField("在留資格", max_length=40, blank=True)
    period_of_stay = models.CharField("在留期間", max_length=20, blank=True)
    stay_expiry = models.DateField("在留期間の満了日", null=True, blank=True)
    residence_card_no = models.CharField("在留カード等の番号", max_length=12, blank=True)
    alias_name = models.CharField("通称", max_length=60, blank=True)
    alias_name_kana = models.CharField("通称フリガナ", max_length=120, blank=True)

    status = models.CharField("状態", max_length=10, choices=Status.choices, default=Status.RESIDENT)
    removal_reason = models.CharField("消除事由", max_length=20, blank=True)
    removal_date = models.DateField("消除日", null=True, blank=True)
    move_out_state = models.CharField("転出の状態", max_length=4, blank=True)  # 予定 / 確定
    move_out_destination = models.CharField("転出先", max_length=200, blank=True)
    move_in_notice_date = models.DateField("転入通知受理日", null=True, blank=True)

    last_change_date = models.DateField("最終異動日", null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    # Derived search keys (never shown; the registered text above is what is displayed and printed).
    # Name keys in layers (jichitai.moji): exact (as registered, IVS kept) → selector dropped → MJ縮退 → variant family.
    name_key = KeyField(max_length=120, default="")
    name_sel_key = KeyField(max_length=120, default="")
    name_deg_key = KeyField(max_length=120, default="")
    name_var_key = KeyField(max_length=120, default="")
    given_key = KeyField(max_length=60, default="")
    kana_key = KeyField(max_length=240, default="")
    kana_loose_key = KeyField(max_length=240, default="")
    address_key = KeyField(max_length=200, default="")

    class Meta:
        verbose_name = "住民"
        constraints = [models.UniqueConstraint(fields=["municipality", "atena_no"], name="person_atena_unique")]
        # Each search index ends with the column results are ordered by after the key (id), so that PostgreSQL
        # returns the first page straight from the index (SQLite indexes end with the rowid anyway).
        # A looser layer's index also carries the previous layer's key: a layer is "this range and not the
        # previous one" (residents.queries._layers), and the search counts every layer; with the previous key in
        # the index the count reads the index alone instead of one table row per match (SQLite: 0.37 s → 13 ms
        # for ヤマ's 52,599 matches).
        indexes = [
            models.Index(fields=["municipality", key, "id"], name=f"person_{key}")
            for key in ("name_key", "given_key", "kana_key", "address_key", "birth_date", "resident_code")
        ] + [
            models.Index(fields=["municipality", key, previous, "id"], name=f"person_{key}_layer")
            for key, previous in (("name_sel_key", "name_key"), ("name_deg_key", "name_sel_key"),
                                  ("name_var_key", "name_deg_key"), ("kana_loose_key", "kana_key"))
        ]

    def __str__(self):
        return f"{self.family_name}　{self.given_name}"

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # what was read, so that a change writes only the columns it changed (actions._save)
        instance._loaded = dict(zip(field_names, values))
        return instance

    @property
    def full_name(self):
        return f"{self.family_name}　{self.given_name}".strip("　")

    @property
    def full_kana(self):
        return f"{self.family_name_kana}　{self.given_name_kana}".strip("　")

    @property
    def is_removed(self):
        return self.status == Status.REMOVED


class PersonHistory(TenantModel):
    """One full snapshot per change (異動履歴). Append-only: never updated, never deleted."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="history")
    history_no = models.PositiveIntegerField("履歴番号")
    change_kind = models.CharField("異動事由", max_length=30, choices=ChangeKind.choices)
    change_date = models.DateField("異動日")
    notification_date = models.DateField("届出日", null=True, blank=True)
    processed_at = models.DateTimeField("処理日")
    operator = models.CharField("処理者", max_length=150)
    terminal = models.CharField("入力端末", max_length=120, blank=True)
    note = models.CharField("備考", max_length=200, blank=True)
    snapshot = models.JSONField("記載内容")
    intake = models.ForeignKey("Intake", null=True, blank=True, on_delete=models.PROTECT, related_name="history",
                               verbose_name="届出の受付")

    objects = AppendOnlyTenantManager()
    all_tenants = models.Manager.from_queryset(AppendOnlyQuerySet)()

    class Meta:
        verbose_name = "異動履歴"
        ordering = ["person", "history_no"]
        constraints = [models.UniqueConstraint(fields=["person", "history_no"], name="history_no_unique")]
        # the change feed reads a municipality's newest rows by id (api.feed: watermark, new rows above it)
        indexes = [models.Index(fields=["municipality", "id"], name="history_muni_id")]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("異動履歴は変更できません / history rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("異動履歴は削除できません / history rows are append-only")


# ---------------------------------------------------------------- 届出の受付 and 審査・決裁

class NotifierKind(models.TextChoices):
    """届出人: who filed the notification. 職権 is set by the actions for changes made ex officio (no 届出)."""

    SELF = "self", "本人"
    HEAD = "head", "世帯主"
    SAME_HOUSEHOLD = "same_household", "同一世帯の者"
    AGENT = "agent", "代理人"
    EX_OFFICIO = "ex_officio", "職権（届出なし）"


class IdDocument(models.TextChoices):
    """本人確認書類 checked at the counter."""

    MY_NUMBER_CARD = "my_number_card", "個人番号カード"
    DRIVING_LICENCE = "driving_licence", "運転免許証"
    PASSPORT = "passport", "旅券"
    RESIDENCE_CARD = "residence_card", "在留カード"
    OTHER = "other", "その他"
    NONE = "none", "—（職権）"


class IntakeStatus(models.TextChoices):
    REGISTERED = "registered", "登録済み"
    PENDING = "pending", "決裁待ち"
    APPROVED = "approved", "決裁済み（登録済み）"
    RETURNED = "returned", "差し戻し"


class Intake(TenantModel):
    """One 届出の受付: who filed it, which identity document was checked, its 受付番号 (unique per municipality and
    day) and time. Every 異動 has one; the history rows it produced point to it. While the municipality requires
    審査・決裁 (residents.config.approval_required), the change waits here as PENDING with the action's arguments
    (`payload`) and the register is untouched until a second staff member approves it."""

    received_on = models.DateField("受付日")
    receipt_no = models.PositiveIntegerField("受付番号")
    received_at = models.DateTimeField("受付日時")
    received_by = models.ForeignKey("tenancy.StaffUser", on_delete=models.PROTECT, related_name="+",
                                    verbose_name="受付者")
    terminal = models.CharField("受付端末", max_length=120, blank=True)
    change_kind = models.CharField("異動事由", max_length=30, choices=ChangeKind.choices)
    notifier_kind = models.CharField("届出人", max_length=20, choices=NotifierKind.choices)
    notifier_name = models.CharField("届出人の氏名", max_length=60, blank=True)
    notifier_address = models.CharField("届出人の住所", max_length=200, blank=True)
    id_document = models.CharField("本人確認書類", max_length=20, choices=IdDocument.choices)
    id_document_other = models.CharField("本人確認書類（その他）", max_length=60, blank=True)
    status = models.CharField("状態", max_length=12, choices=IntakeStatus.choices)
    subject = models.CharField("対象", max_length=200, blank=True, help_text="受付時の対象者（一覧の表示用）")
    person_ids = models.JSONField("対象者", default=list)
    action = models.CharField("処理", max_length=40, blank=True)
    payload = models.JSONField("決裁待ちの入力内容", null=True, blank=True)
    decided_by = models.ForeignKey("tenancy.StaffUser", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="決裁者")
    decided_at = models.DateTimeField("決裁日時", null=True, blank=True)
    return_reason = models.CharField("差し戻しの理由", max_length=200, blank=True)

    class Meta:
        verbose_name = "届出の受付"
        constraints = [models.UniqueConstraint(fields=["municipality", "received_on", "receipt_no"],
                                               name="intake_receipt_no_unique")]
        indexes = [models.Index(fields=["municipality", "status", "id"], name="intake_status")]

    @property
    def receipt_label(self):
        """受付番号 as printed: the day and the number (e.g. 20261206-0007)."""
        return f"{self.received_on:%Y%m%d}-{self.receipt_no:04d}"

    @property
    def notifier_label(self):
        label = NotifierKind(self.notifier_kind).label if self.notifier_kind in NotifierKind.values else ""
        return f"{label}（{self.notifier_name}）" if self.notifier_name else label

    @property
    def id_document_label(self):
        if self.id_document == IdDocument.OTHER:
            return f"その他（{self.id_document_other}）"
        return IdDocument(self.id_document).label if self.id_document in IdDocument.values else ""
