"""The 町字 master (町字マスタ): per municipality, the 町字 its addresses may name, with their 丁目 range.

A stored address (Person.address) stays free text and has no foreign key to a 町字: the relation is derived
(`queries.match_address`), by the longest 町字 name that begins the address's normalised key. So addresses
registered before the master existed keep working, renaming or removing a 町字 never rewrites the register, and a
list can still group by 町字. New addresses entered on a change form are validated against the master when the
municipality has one (residents.actions → chouaza.validation.check_address).
"""
from django.db import models

from jichitai.tenancy.scope import TenantModel


class Chouaza(TenantModel):
    code = models.CharField("町字コード", max_length=12)
    name = models.CharField("町字", max_length=60)
    kana = models.CharField("町字カナ", max_length=120, blank=True)
    chome_from = models.PositiveSmallIntegerField("丁目（から）", null=True, blank=True)
    chome_to = models.PositiveSmallIntegerField("丁目（まで）", null=True, blank=True)
    name_key = models.CharField(max_length=60)  # normalize.address_key(name): what addresses are matched on
    updated_at = models.DateTimeField("更新日時", auto_now=True)

    class Meta:
        verbose_name = "町字"
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["municipality", "code"], name="chouaza_code_unique"),
            models.UniqueConstraint(fields=["municipality", "name_key"], name="chouaza_name_unique"),
        ]

    def __str__(self):
        return self.name

    @property
    def has_chome(self):
        return self.chome_to is not None

    @property
    def chome_range(self):
        return f"{self.chome_from}〜{self.chome_to}丁目" if self.has_chome else "—"
