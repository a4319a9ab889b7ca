from django import forms

from .actions import MAX_GLYPH_BYTES


class RegisterForm(forms.Form):
    code = forms.CharField(label="外字コード", max_length=8, help_text="Shift_JIS（例: F040）または私用領域（例: U+E000）")
    vendor = forms.CharField(label="ベンダー・システム名", max_length=60, required=False)
    glyph = forms.FileField(label="ベンダーの字形画像（PNG）", required=False)
    vendor_juki_code = forms.CharField(label="住基ネット統一文字コード（ベンダー提示）", max_length=10, required=False,
                                       help_text="例: J+9AD9。MJ と一致すれば自動で承認されます")
    vendor_koseki_no = forms.CharField(label="戸籍統一文字番号（ベンダー提示）", max_length=10, required=False)
    vendor_note = forms.CharField(label="ベンダーの説明", max_length=200, required=False)

    def clean_glyph(self):
        f = self.cleaned_data.get("glyph")
        if not f:
            return None
        if f.size > MAX_GLYPH_BYTES:
            raise forms.ValidationError("字形画像が大きすぎます（256KBまで）")
        return f.read()


class MJSearchForm(forms.Form):
    code = forms.CharField(label="コード・文字", max_length=20, required=False,
                           help_text="MJ文字図形名、U+XXXX、J+XXXX、戸籍統一文字番号、面区点、または文字そのもの")
    reading = forms.CharField(label="読み", max_length=20, required=False, help_text="音訓（かな）")
    radical = forms.IntegerField(label="部首番号", min_value=1, max_value=214, required=False, help_text="康熙部首 1〜214")
    strokes = forms.IntegerField(label="総画数", min_value=1, max_value=84, required=False)


class DecisionForm(forms.Form):
    expected_version = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=[("approve", "承認"), ("unmappable", "対応なし"), ("reopen", "差し戻し")],
                                 widget=forms.HiddenInput)
    mj_name = forms.CharField(max_length=10, required=False, widget=forms.HiddenInput)
    note = forms.CharField(label="確認メモ・理由", max_length=200, required=False)


class TableImportForm(forms.Form):
    vendor = forms.CharField(label="ベンダー・システム名", max_length=60,
                             help_text="データ移行の --vendor と同じ名前（例: himawari）")
    table = forms.FileField(label="外字対応表（CSV）",
                            help_text="列: vendor_code, mj_name, ucs, char, note（任意で glyph_png_base64）。UTF-8 または CP932")

    def clean_table(self):
        f = self.cleaned_data["table"]
        if f.size > 20 * 1024 * 1024:
            raise forms.ValidationError("ファイルが大きすぎます（20MBまで）")
        return f.read()
