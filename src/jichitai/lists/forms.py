"""Filters of the lists. Dates as 西暦 or 和暦 (the residents' date field); the period defaults to today."""
import datetime as dt

from django import forms
from django.utils import timezone

from jichitai.certificates.models import IssuanceStatus, Kind
from jichitai.residents.forms import FocusFirstMixin, WarekiDateField, focus_first_field
from jichitai.residents.models import ChangeKind

MAX_DAYS = 366
FORMATS = [("html", "画面"), ("csv", "CSV（UTF-8）"), ("csv-cp932", "CSV（Shift_JIS/CP932）"), ("pdf", "PDF")]


class PeriodForm(FocusFirstMixin, forms.Form):
    date_from = WarekiDateField(label="開始日", required=False)
    date_to = WarekiDateField(label="終了日", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        focus_first_field(self)

    def clean(self):
        d = super().clean()
        if "date_from" in self.errors or "date_to" in self.errors:
            return d
        today = timezone.localdate()
        df, dt_ = d.get("date_from"), d.get("date_to")
        df = df or dt_ or today
        dt_ = dt_ or max(df, today)  # from a date on: up to today
        d["date_from"], d["date_to"] = df, dt_
        if df > dt_:
            self.add_error("date_to", "終了日が開始日より前になっています")
        elif (dt_ - df).days >= MAX_DAYS:
            self.add_error("date_to", f"期間は{MAX_DAYS}日以内で指定してください")
        return d


class IssuanceFilterForm(PeriodForm):
    clerk = forms.ChoiceField(label="処理者", required=False)
    kind = forms.ChoiceField(label="種類", required=False, choices=[("", "すべて")] + list(Kind.choices))
    status = forms.ChoiceField(label="状態", required=False, choices=[("", "すべて")] + list(IssuanceStatus.choices))
    name = forms.CharField(label="氏名", required=False, max_length=60, help_text="対象者・請求者（前方一致、異体字も）")

    def __init__(self, *args, clerks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clerk"].choices = [("", "すべて")] + [(c, c) for c in clerks]


class MoversFilterForm(PeriodForm):
    kinds = forms.MultipleChoiceField(label="異動事由", required=False, choices=ChangeKind.choices,
                                      widget=forms.CheckboxSelectMultiple, help_text="選ばなければすべて")


class HouseholdFilterForm(FocusFirstMixin, forms.Form):
    address = forms.CharField(label="住所（前方一致）", required=False, max_length=100,
                              help_text="町字から（二丁目・2丁目・２丁目は同じ）")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        focus_first_field(self)


def today_range():
    t = timezone.localdate()
    return t, t


__all__ = ["dt", "FORMATS", "IssuanceFilterForm", "MoversFilterForm", "HouseholdFilterForm", "today_range"]
