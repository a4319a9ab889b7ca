from django import forms

from .models import Shelter
from .models.core import DisasterKind


class DeclareForm(forms.Form):
    name = forms.CharField(label="災害名", max_length=100,
                           widget=forms.TextInput(attrs={"autofocus": True, "placeholder": "例: 令和8年台風第10号"}))
    kind = forms.ChoiceField(label="種別", choices=DisasterKind.choices)
    occurred_at = forms.DateTimeField(label="発生日時", input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class OperatorDeclareForm(DeclareForm):
    municipalities = forms.CharField(label="対象団体コード（空白・カンマ区切り）", max_length=2000,
                                     help_text="例: 44204 45383")

    def clean_municipalities(self):
        codes = [c for c in self.cleaned_data["municipalities"].replace(",", " ").split() if c]
        if not codes:
            raise forms.ValidationError("対象の団体コードを1つ以上入力してください。")
        return codes


class ShelterForm(forms.ModelForm):
    class Meta:
        model = Shelter
        fields = ["code", "name", "kind", "address", "capacity_day", "capacity_night", "contact_name",
                  "contact_phone", "latitude", "longitude"]
        widgets = {"code": forms.TextInput(attrs={"autofocus": True})}


# ---------------------------------------------------------------- evacuees, safety, grants, PFIF

from .models.evacuees import PfifStatus, Presence  # noqa: E402

QUICK_LINES = 8


class CsvImportForm(forms.Form):
    file = forms.FileField(label="CSVファイル（UTF-8 または Shift_JIS）",
                           widget=forms.ClearableFileInput(attrs={"autofocus": True, "accept": ".csv,text/csv"}))


class SafetyNoteForm(forms.Form):
    status = forms.ChoiceField(label="状態", choices=PfifStatus.choices, required=False,
                               widget=forms.Select(attrs={"autofocus": True}))
    text = forms.CharField(label="内容", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    author_name = forms.CharField(label="情報提供者（空欄: 団体名）", max_length=200, required=False)
    author_made_contact = forms.NullBooleanField(label="本人と連絡が取れた", required=False)
    last_known_location = forms.CharField(label="最後に確認された場所", max_length=300, required=False)


class ConsentForm(forms.Form):
    family = forms.BooleanField(label="同居親族への回答", required=False)
    acquaintance = forms.BooleanField(label="知人その他への回答", required=False)
    public = forms.BooleanField(label="公表（PFIF・安否情報の公開）", required=False)


class MoveForm(forms.Form):
    kind = forms.ChoiceField(label="操作", choices=[("transfer", "移動（避難所間）"), ("check_out", "退所"),
                                                   ("check_in", "入所"), ("outside", "避難所外で避難")])
    shelter = forms.IntegerField(label="避難所", required=False)
    place_kind = forms.ChoiceField(label="避難所以外の居所", required=False,
                                   choices=[("", "—"), ("home", "在宅避難"), ("car", "車中泊"), ("other", "その他")])
    place_note = forms.CharField(label="場所の詳細", max_length=200, required=False)
    presence = forms.ChoiceField(label="在所", choices=[("", "変更しない"), *Presence.choices], required=False)


class GrantForm(forms.Form):
    host = forms.CharField(label="受入団体コード", max_length=6, widget=forms.TextInput(attrs={"autofocus": True}))
    expires_at = forms.DateTimeField(label="有効期限", input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    reason = forms.CharField(label="理由", max_length=200)


class PfifImportForm(forms.Form):
    source_domain = forms.CharField(label="取込元のドメイン", max_length=200,
                                    widget=forms.TextInput(attrs={"autofocus": True,
                                                                  "placeholder": "例: personfinder.google.org"}))
    file = forms.FileField(label="PFIFファイル（XML）")


class InquiryForm(forms.Form):
    name = forms.CharField(label="照会された方の氏名またはフリガナ", max_length=100,
                           widget=forms.TextInput(attrs={"autofocus": True}))
    birth = forms.CharField(label="生年月日（分かれば）", max_length=20, required=False)
    inquirer = forms.ChoiceField(label="照会者", choices=[("family", "同居の親族"), ("acquaintance", "知人その他"),
                                                       ("public", "一般")])
    inquirer_name = forms.CharField(label="照会者の氏名・連絡先（記録のため）", max_length=100)


class OperatorGrantForm(GrantForm):
    origin = forms.CharField(label="被災団体コード", max_length=6, widget=forms.TextInput(attrs={"autofocus": True}))
    field_order = ["origin", "host", "expires_at", "reason"]

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.fields["host"].widget.attrs.pop("autofocus", None)
