"""`{% setting_tier "namespace.key" %}`: the effective value's tier (and who set it) where the setting acts."""
from django import template
from django.utils.html import format_html

from jichitai.platform import engine

register = template.Library()


@register.simple_tag(takes_context=True)
def setting_tier(context, key):
    request = context.get("request")
    m = getattr(request, "municipality", None) if request is not None else None
    r = engine.resolve(key, m)
    who = f"（{r.set_by}、{r.set_at:%Y-%m-%d}）" if r.set_by and r.set_at else ""
    return format_html('<span class="tier tier-{}" title="{}{}">{}</span>', r.tier, r.label, who, r.tier_label)


@register.filter
def tier_label(tier):
    return engine.TIER_LABELS.get(tier, tier)
