"""One form for one certificate setting; every check is `config.parse_value`, so the screens, the actions and any
other caller give the same Japanese messages."""
from django import forms

from . import config


class SettingValueForm(forms.Form):
    """`value` holds the typed text (or, for an image, the validated data URI carried from the confirmation page);
    an image is uploaded in `upload`. After `is_valid()`, `parsed` is the typed value and `submit_value` the string
    that the confirmation page posts back."""

    def __init__(self, definition: config.SettingDef, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.definition = d = definition
        if d.type == "text":
            self.fields["value"] = forms.CharField(label=d.label, help_text=d.help, required=False, strip=False,
                                                   widget=forms.TextInput(attrs={"autofocus": True}))
        elif d.type == "multiline":
            self.fields["value"] = forms.CharField(label=d.label, help_text=d.help, required=False, strip=False,
                                                   widget=forms.Textarea(attrs={"rows": 3, "cols": 60,
                                                                                "autofocus": True}))
        elif d.type == "int":
            self.fields["value"] = forms.CharField(
                label=d.label, help_text=d.help, required=False,
                widget=forms.TextInput(attrs={"inputmode": "numeric", "autofocus": True}))
        elif d.type == "bool":
            self.fields["value"] = forms.ChoiceField(label=d.label, help_text=d.help, required=False,
                                                     choices=[("1", d.choices_labels[0]), ("0", d.choices_labels[1])],
                                                     widget=forms.Select(attrs={"autofocus": True}))
        else:  # image
            self.fields["upload"] = forms.FileField(
                label=f"{d.label}（PNG・SVG ファイル）", help_text=d.help, required=False,
                widget=forms.FileInput(attrs={"accept": "image/png,image/svg+xml", "autofocus": True}))
            self.fields["value"] = forms.CharField(required=False, widget=forms.HiddenInput)

    @property
    def is_image(self):
        return self.definition.type == "image"

    def clean(self):
        data = super().clean()
        d = self.definition
        field = "upload" if self.is_image else "value"
        if self.errors:
            return data
        try:
            if self.is_image:
                if data.get("upload"):
                    raw = config.image_upload_to_data_uri(data["upload"])
                elif data.get("value"):
                    raw = data["value"]
                else:
                    raise config.SettingError({"value": ["画像ファイルを選んでください。"]})
            else:
                raw = data.get("value", "")
            parsed = config.parse_value(d.key, raw)
        except config.SettingError as e:
            for msgs in e.errors.values():
                for msg in msgs:
                    self.add_error(field, msg)
            return data
        data["parsed"] = parsed
        if d.type == "bool":
            data["submit_value"] = "1" if parsed else "0"
        else:
            data["submit_value"] = str(parsed)
        return data

    def add_setting_errors(self, error: config.SettingError):
        field = "upload" if self.is_image else "value"
        for key, msgs in error.errors.items():
            for msg in msgs:
                self.add_error(field if key == "value" else None, msg)


def initial_for(definition: config.SettingDef, value) -> dict:
    """The edit form's starting value: the value in force (images are uploaded afresh)."""
    if definition.type == "image":
        return {}
    if definition.type == "bool":
        return {"value": "1" if value else "0"}
    return {"value": value}
