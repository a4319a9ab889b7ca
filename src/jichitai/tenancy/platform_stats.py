"""Figures the platform operator sees across tenants: counts only, never personal data (cost sharing, 割り勘)."""
from django.db.models import Count

from .scope import cross_tenant


def resident_counts() -> dict:
    """{municipality id: residents} for every municipality."""
    from jichitai.residents.models import Person

    with cross_tenant("operator statistics: resident counts per municipality"):
        return dict(Person.all_tenants.filter(status="resident").values_list("municipality")
                    .annotate(n=Count("id")))
