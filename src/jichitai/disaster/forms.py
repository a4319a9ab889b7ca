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
