"""Bookkeeping of legacy migrations (旧システムからのデータ移行).

`MigrationRun` is one input file (by sha256) imported with one layout for one vendor into one municipality. Its
work is split into deterministic chunks of whole households; each committed chunk has a `MigrationChunk` row
written in the same transaction as the chunk's persons, so a re-run after a crash skips exactly the committed
chunks. Every input row that was not imported has a `MigrationRow` (rejected, or held for 外字) with its raw bytes.
`LegacyKey` maps the vendor's person key (旧宛名番号) to the imported person: the deterministic legacy key.
"""
from django.db import models

from jichitai.tenancy.scope import TenantModel


class MigrationRun(TenantModel):
    municipality = models.ForeignKey("tenancy.Municipality", on_delete=models.PROTECT, related_name="+")
    vendor = models.CharField("ベンダー", max_length=60)
    input_sha256 = models.CharField(max_length=64)
    layout_sha256 = models.CharField(max_length=64)
    input_name = models.CharField(max_length=300, blank=True)
    layout_name = models.CharField(max_length=200, blank=True)
    chunk_size = models.PositiveIntegerField()
    rows_read = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, default="running")  # running / completed
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    passes = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "移行実行"
        constraints = [models.UniqueConstraint(fields=["municipality", "vendor", "input_sha256", "layout_sha256"],
                                               name="migration_run_unique")]


class MigrationChunk(models.Model):
    """A committed unit of work: a chunk of the input (kind "chunk") or a retry of held rows (kind "retry")."""

    run = models.ForeignKey(MigrationRun, on_delete=models.CASCADE, related_name="chunks")
    kind = models.CharField(max_length=8, default="chunk")
    index = models.PositiveIntegerField()
    first_line = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    stats = models.TextField(default="{}")  # canonical JSON
    committed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "kind", "index"], name="migration_chunk_unique")]


class Outcome(models.TextChoices):
    REJECTED = "rejected", "不正（取込不可）"
    HELD = "held", "保留（外字の承認待ち）"
    RESOLVED = "resolved", "保留後に取込済み"
    DUPLICATE = "duplicate", "重複（同一内容、1件として取込）"


class MigrationRow(models.Model):
    """An input row that was not imported in its chunk: rejected, or held (later perhaps resolved)."""

    run = models.ForeignKey(MigrationRun, on_delete=models.CASCADE, related_name="rows")
    line_no = models.PositiveIntegerField("行番号")
    byte_offset = models.BigIntegerField("バイト位置")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason_code = models.CharField(max_length=40)
    field = models.CharField(max_length=60, blank=True)
    field_offset = models.BigIntegerField(null=True, blank=True)
    reason_ja = models.CharField(max_length=300)
    reason_en = models.CharField(max_length=300)
    errors = models.TextField(default="[]")  # every error of the row, JSON
    pending_codes = models.CharField(max_length=400, blank=True)  # held: the unapproved 外字 (Shift_JIS codes)
    household_key = models.CharField(max_length=40, blank=True)
    raw = models.BinaryField()

    class Meta:
        ordering = ["run", "line_no"]
        constraints = [models.UniqueConstraint(fields=["run", "line_no"], name="migration_row_unique")]


class LegacyKey(TenantModel):
    """旧宛名番号 → imported person: makes the import idempotent across runs and keeps the old numbers findable."""

    municipality = models.ForeignKey("tenancy.Municipality", on_delete=models.PROTECT, related_name="+")
    vendor = models.CharField(max_length=60)
    person_key = models.CharField("旧宛名番号", max_length=40)
    household_key = models.CharField("旧世帯番号", max_length=40)
    person = models.ForeignKey("residents.Person", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(MigrationRun, on_delete=models.PROTECT, related_name="+")
    line_no = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "vendor", "person_key"],
                                               name="legacy_key_unique")]


class PersonExtra(TenantModel):
    """A legacy field with no target in our register (町字コード, 最終更新日 …), kept per person as the vendor wrote it
    (extra = true in a layout of format 2). Carried by the standard-layout export (person_extras.csv). Written once by
    the import (never updated by it); the value is text as read (dates as ISO text)."""

    person = models.ForeignKey("residents.Person", on_delete=models.PROTECT, related_name="extras")
    name = models.CharField("項目名", max_length=60)
    value = models.CharField("値", max_length=200, blank=True)
    source = models.CharField("出典（ベンダー）", max_length=60, blank=True)

    class Meta:
        verbose_name = "追加属性（移行元の項目）"
        ordering = ["person", "name"]
        constraints = [models.UniqueConstraint(fields=["person", "name"], name="person_extra_unique")]
