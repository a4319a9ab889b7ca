"""The one table of the guard app: permits for the sanctioned purge path (`jichitai.guard.purge`)."""
from django.db import models


class PurgePermit(models.Model):
    """A row naming a municipality lets the append-only triggers accept DELETE of that municipality's history and
    audit rows. Inserted and removed inside the purging transaction (so no other transaction ever sees one), and on
    PostgreSQL bound to that transaction's id; the runtime database role may only read this table."""

    municipality_id = models.BigIntegerField()
    txid = models.BigIntegerField(default=0)  # PostgreSQL: txid_current() of the purging transaction
    reason = models.CharField(max_length=200)
