"""Every tenant-scoped read of the disaster app."""
from .models import DisasterActivation, Shelter


def activations():
    """The municipality's disasters, newest first."""
    return DisasterActivation.objects.select_related("disaster").order_by("-declared_at", "-id")


def open_activations():
    return activations().filter(ended_at__isnull=True)


def current_activation():
    """The most recently declared disaster still open for the municipality in scope, or None."""
    return open_activations().first()


def disaster_declared() -> bool:
    """Is a disaster declared (open) for the municipality in scope? The 避難行動要支援者名簿 may then be shared
    without the person's consent (災害対策基本法 第49条の11 第3項)."""
    return open_activations().exists()


def shelters(*, open_only: bool = False):
    qs = Shelter.objects.order_by("code")
    return qs.filter(is_open=True) if open_only else qs


def shelter(shelter_id: int):
    return Shelter.objects.filter(pk=shelter_id).first()
