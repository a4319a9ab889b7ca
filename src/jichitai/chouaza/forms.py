"""Forms of the 町字 master, and the address entry (町字 + 番地・号; 方書 stays its own field) that residents'
change forms mix in."""
from django import forms

from . import queries


class ChouazaAddressMixin:
    """On a change form with an `address` field: when the municipality has a 町字 master, the address is entered as
    町字 (chosen from the master, 丁目 spelled out) + 番地・号, and composed into `address`; the text field stays,
    hidden, for callers that post the whole address. The rules (town, 丁目, 番地 pattern) are in the one
    validation (residents.actions → chouaza.validation), so what is composed here is checked there."""

    address_field = "address"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = queries.chouaza_choices()
        if not choices:
            return
        name = self.address_field
        old = self.fields[name]
        chouaza = forms.ChoiceField(label="町字", choices=[("", "（町字を選択）")] + choices, required=False,
                                    help_text="町字マスタから選びます（文字を打つと絞り込めます）")
        banchi = forms.CharField(label="番地・号", required=False, max_length=60,
                                 help_text="例: 3番4号、123番地、12番地3（数字は全角・半角・漢数字のどれでも）",
                                 widget=forms.TextInput(attrs={"autocomplete": "off"}))
        old.required = False
        old.widget = forms.HiddenInput()
        fields = {}
        for k, f in self.fields.items():
            if k == name:
                fields["chouaza"], fields["banchi"] = chouaza, banchi
            fields[k] = f
        self.fields = fields
        if not self.is_bound and self.initial.get(name):
            m = queries.match_address(self.initial[name])
            if m.chouaza is not None:
                self.initial["banchi"] = m.rest
        from jichitai.residents.forms import focus_first_field

        focus_first_field(self)

    def add_error(self, field, error):
        # the rules name `address` (hidden here): show their messages at the 番地・号 the clerk typed
        if field == self.address_field and "banchi" in self.fields:
            field = "banchi"
        super().add_error(field, error)

    def clean(self):
        d = super().clean()
        if "chouaza" not in self.fields:
            return d
        name = self.address_field
        if d.get("chouaza"):
            d[name] = d["chouaza"] + (d.get("banchi") or "").strip()
        elif not (d.get(name) or "").strip():
            self.add_error("chouaza", "町字を選び、番地・号を入力してください")
        return d


class ChouazaForm(forms.Form):
    code = forms.CharField(label="町字コード", max_length=12, help_text="12桁以内の数字")
    name = forms.CharField(label="町字", max_length=60, help_text="丁目は含めません（例: 三本松）")
    kana = forms.CharField(label="町字カナ", max_length=120, required=False)
    chome_from = forms.CharField(label="丁目（から）", max_length=2, required=False)
    chome_to = forms.CharField(label="丁目（まで）", max_length=2, required=False, help_text="丁目のない町字は空欄")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs["autofocus"] = True


class UploadForm(forms.Form):
    file = forms.FileField(label="町字CSV", help_text="1行目: 町字コード,町字,町字カナ,丁目（から）,丁目（まで）"
                                                      "（UTF-8 または Shift_JIS）。このファイルが町字マスタ全体になります")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["autofocus"] = True
