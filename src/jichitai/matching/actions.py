"""The matcher's one write: the audit event of a matching run (a read of personal data, so it is logged).

No personal data in the event: counts, the reader and where the rows came from."""
from django.db import transaction

from jichitai.audit.actions import record_event


@transaction.atomic
def record_run(municipality, *, reader, results, source: str, actor=None):
    counts = {"auto": 0, "review": 0, "none": 0}
    for r in results:
        counts[r.decision] += 1
    return record_event(municipality, "disaster.match", actor=actor, object_type="matching",
                        detail={"reader": reader.name, "source": source, "rows": len(results), **counts,
                                "duplicate_groups": len({r.duplicate_group for r in results if r.duplicate_group})})
