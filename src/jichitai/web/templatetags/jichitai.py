import datetime as dt

from django import template

from jichitai.common.wareki import format_wareki

register = template.Library()


@register.filter
def wareki(value):
    """A date (or ISO date string) in 和暦: 昭和50年4月1日."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        value = value.date()
    return format_wareki(value)


@register.filter
def yesno_ja(value):
    return "有" if value else "—"


@register.filter
def codepoints(text):
    """'葛󠄀' → 'U+845B U+E0100' (so a reviewer sees exactly what is stored)."""
    return " ".join(f"U+{ord(c):04X}" for c in (text or ""))


@register.filter
def get_item(mapping, key):
    return mapping.get(key, "")
