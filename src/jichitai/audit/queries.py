"""Reads of the register for the audit screen: who an event is about."""
from django.db.models import Q

from jichitai.privacy import policy
from jichitai.residents.models import Person


def _name(family, given):
    return f"{family}　{given}".strip("　")


def person_labels(user, ids) -> dict:
    """{person id (text): "宛名番号 氏名"} for the audit screen, for readers the policy lets see residents; {}
    for others (they see the ids only)."""
    if not policy.identifies_persons(user):
        return {}
    clean = {int(i) for i in ids if str(i).isdigit()}
    return {str(pk): f"{atena} {_name(fam, given)}" for pk, atena, fam, given in
            Person.objects.filter(pk__in=clean).values_list("pk", "atena_no", "family_name", "given_name")}


def person_ids_for(text) -> list[str]:
    """A 宛名番号 or an internal person id typed in the audit filter → the person ids (text) to look for."""
    t = (text or "").strip()
    if not t:
        return []
    ids = [str(pk) for pk in Person.objects.filter(Q(atena_no=t) | Q(atena_no=t.zfill(15))).values_list("pk", flat=True)]
    return ids or ([t] if t.isdigit() else [t])
