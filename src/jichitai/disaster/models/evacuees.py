"""Evacuees (避難者), their check-in/out history, safety notes (安否情報), cross-municipality lookup grants (広域避難)
and imported PFIF records.

`Evacuee` is one registration of a person during a disaster, with the 消防庁 安否情報 items and per-person consent to
disclose; it is the current state (a projection, like `Person`). Every check-in, check-out, transfer and change of
where they stay is an `EvacueeMovement` row, append-only (the database refuses UPDATE/DELETE). Safety notes
(`SafetyNote`) are append-only too and carry a PFIF 1.4 status.
"""
from django.db import models

from jichitai.tenancy.scope import AppendOnlyQuerySet, AppendOnlyTenantManager, TenantModel

from .core import DisasterActivation, EvacuationPlace, Shelter


class EvacueeStatus(models.TextChoices):
    CHECKED_IN = "checked_in", "入所中"
    CHECKED_OUT = "checked_out", "退所"
    OUTSIDE = "outside", "避難所外で避難中"  # 在宅避難・車中泊・親族宅


class Presence(models.TextChoices):
    """Day/night presence at the shelter (Sahana Eden's practice; 昼夜で人数が変わる)."""
    BOTH = "both", "昼夜"
    NIGHT = "night", "夜間のみ"
    DAY = "day", "昼間のみ"


class MatchState(models.TextChoices):
    PENDING = "pending", "未照合"
    REVIEW = "review", "要確認"
    LINKED = "linked", "住民と確認済み"
    NONE = "none", "該当なし（住民以外）"


class EvacueeSex(models.TextChoices):
    UNKNOWN = "", "不明"
    MALE = "1", "男"
    FEMALE = "2", "女"
    OTHER = "9", "その他"


class Evacuee(TenantModel):
    activation = models.ForeignKey(DisasterActivation, on_delete=models.PROTECT, related_name="evacuees")
    # 消防庁 安否情報 items, as given (a paper list's words are kept as written)
    full_name = models.CharField("氏名", max_length=100)
    kana = models.CharField("フリガナ", max_length=200, blank=True)
    birth_text = models.CharField("出生の年月日（記入のまま）", max_length=40, blank=True)
    birth_date = models.DateField("出生の年月日", null=True, blank=True)
    sex = models.CharField("男女の別", max_length=1, choices=EvacueeSex.choices, blank=True)
    address = models.CharField("住所", max_length=200, blank=True)
    nationality = models.CharField("国籍", max_length=40, blank=True)
    injury = models.CharField("負傷又は疾病の状況", max_length=200, blank=True)
    place_kind = models.CharField("居所の種別", max_length=20, choices=EvacuationPlace.choices)
    place_note = models.CharField("居所（避難所以外の場所など）", max_length=200, blank=True)
    contact = models.CharField("連絡先", max_length=100, blank=True)
    consent_family = models.BooleanField("同居親族への回答に同意", default=False)
    consent_acquaintance = models.BooleanField("知人その他への回答に同意", default=False)
    consent_public = models.BooleanField("公表（安否情報の公開）に同意", default=False)
    group_key = models.CharField("世帯グループ", max_length=40, blank=True)
    # current state (projection of the movements)
    status = models.CharField("状態", max_length=20, choices=EvacueeStatus.choices)
    shelter = models.ForeignKey(Shelter, null=True, blank=True, on_delete=models.PROTECT, related_name="evacuees",
                                verbose_name="避難所")
    presence = models.CharField("在所", max_length=10, choices=Presence.choices, default=Presence.BOTH)
    # matching to the register
    person = models.ForeignKey("residents.Person", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name="住民")
    match_state = models.CharField("照合", max_length=10, choices=MatchState.choices, default=MatchState.PENDING)
    match_candidates = models.JSONField("照合候補", default=list, blank=True)
    duplicate_group = models.CharField("重複の可能性（同じ人の別登録）", max_length=40, blank=True)
    duplicate_dismissed = models.BooleanField("重複候補から除外（別人と確認）", default=False)
    # 同一人物の統合: a duplicate registration points to the surviving one (the primary). Nothing is deleted: the
    # registration and its movements stay; readers count the person once (queries.one_per_person)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged",
                                    verbose_name="統合先（同一人物）")
    merged_at = models.DateTimeField("統合日時", null=True, blank=True)
    merged_by = models.CharField("統合者", max_length=150, blank=True, default="")
    merged_auto = models.BooleanField("自動統合", default=False)
    source = models.CharField("登録元", max_length=20, default="desk")  # desk / csv / host
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150)
    updated_at = models.DateTimeField("更新日時", auto_now=True)  # PFIF entry_date of the person record

    class Meta:
        verbose_name = "避難者"
        ordering = ["id"]
        indexes = [models.Index(fields=["municipality", "updated_at"], name="evacuee_muni_updated"),
                   models.Index(fields=["municipality", "person"], name="evacuee_muni_person")]

    def __str__(self):
        return self.full_name


class MovementKind(models.TextChoices):
    CHECK_IN = "check_in", "入所"
    CHECK_OUT = "check_out", "退所"
    TRANSFER = "transfer", "移動（避難所間）"
    OUTSIDE = "outside", "避難所外で避難"


class EvacueeMovement(TenantModel):
    """One check-in, check-out, transfer or change of place. Append-only: never updated, never deleted."""

    evacuee = models.ForeignKey(Evacuee, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField("種別", max_length=20, choices=MovementKind.choices)
    shelter = models.ForeignKey(Shelter, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                verbose_name="避難所")
    from_shelter = models.ForeignKey(Shelter, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                     verbose_name="移動元")
    place_kind = models.CharField("居所の種別", max_length=20, choices=EvacuationPlace.choices)
    presence = models.CharField("在所", max_length=10, choices=Presence.choices, default=Presence.BOTH)
    at = models.DateTimeField("日時")
    operator = models.CharField("処理者", max_length=150)
    terminal = models.CharField("入力端末", max_length=120, blank=True)

    objects = AppendOnlyTenantManager()
    all_tenants = models.Manager.from_queryset(AppendOnlyQuerySet)()

    class Meta:
        verbose_name = "入退所の記録"
        ordering = ["evacuee", "at", "id"]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("入退所の記録は変更できません / movements are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("入退所の記録は削除できません / movements are append-only")


class PfifStatus(models.TextChoices):
    """PFIF 1.4 note status."""
    UNSPECIFIED = "", "（指定なし）"
    INFORMATION_SOUGHT = "information_sought", "情報を求めている"
    IS_NOTE_AUTHOR = "is_note_author", "本人による記入"
    BELIEVED_ALIVE = "believed_alive", "生存情報あり"
    BELIEVED_MISSING = "believed_missing", "行方不明の情報あり"
    BELIEVED_DEAD = "believed_dead", "死亡の情報あり"


class PfifRecord(TenantModel):
    """A person record imported from another PFIF repository (Person Finder); kept as received. `data` holds the
    PFIF fields by their 1.4 names (older versions mapped)."""

    record_id = models.CharField("PFIFレコードID", max_length=500)
    full_name = models.CharField("氏名", max_length=500)
    source_date = models.DateTimeField("情報の日時")
    entry_date = models.DateTimeField("取込日時")
    expiry_date = models.DateTimeField("有効期限", null=True, blank=True)
    data = models.JSONField("PFIF項目")
    imported_by = models.CharField(max_length=150)

    class Meta:
        verbose_name = "PFIF取込レコード"
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["municipality", "record_id"], name="pfif_record_unique")]


class SafetyNote(TenantModel):
    """One piece of safety information (安否情報) about a resident, an evacuee or an imported PFIF person, with a
    PFIF status. Append-only: a correction is a new note."""

    person = models.ForeignKey("residents.Person", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name="住民")
    evacuee = models.ForeignKey(Evacuee, null=True, blank=True, on_delete=models.PROTECT, related_name="notes")
    pfif_record = models.ForeignKey(PfifRecord, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="notes")
    status = models.CharField("状態", max_length=30, choices=PfifStatus.choices, blank=True)
    author_name = models.CharField("情報提供者", max_length=200)
    author_made_contact = models.BooleanField("本人と連絡が取れた", null=True, blank=True)
    text = models.TextField("内容")
    last_known_location = models.CharField("最後に確認された場所", max_length=300, blank=True)
    source_date = models.DateTimeField("情報の日時")
    entry_date = models.DateTimeField("記録日時")
    note_record_id = models.CharField("PFIFノートID", max_length=500, blank=True)  # imported notes only
    operator = models.CharField("処理者", max_length=150)
    terminal = models.CharField("入力端末", max_length=120, blank=True)

    objects = AppendOnlyTenantManager()
    all_tenants = models.Manager.from_queryset(AppendOnlyQuerySet)()

    class Meta:
        verbose_name = "安否情報"
        ordering = ["entry_date", "id"]
        indexes = [models.Index(fields=["municipality", "entry_date"], name="safetynote_muni_entry")]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("安否情報は変更できません / safety notes are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("安否情報は削除できません / safety notes are append-only")


class LookupGrant(TenantModel):
    """広域避難: the origin municipality (`municipality`) lets a host municipality look up its residents, with
    minimal fields, until `expires_at`, unless revoked. Granted by the origin's staff or, during a disaster declared
    for the origin, by the platform operator. The row is the origin's (RLS); the host reads it only through
    disaster.crossarea."""

    host = models.ForeignKey("tenancy.Municipality", on_delete=models.PROTECT, related_name="+",
                             verbose_name="受入団体")
    activation = models.ForeignKey(DisasterActivation, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    reason = models.CharField("理由", max_length=200)
    granted_at = models.DateTimeField("許可日時")
    granted_by = models.CharField("許可者", max_length=150)
    by_operator = models.BooleanField("運用者による許可", default=False)
    expires_at = models.DateTimeField("有効期限")
    revoked_at = models.DateTimeField("取消日時", null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "広域避難の照会許可"
        ordering = ["-granted_at", "-id"]
