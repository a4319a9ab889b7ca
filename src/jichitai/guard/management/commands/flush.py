"""`flush` (used by the test runner between transactional tests): empties every table, as the login role. On SQLite
it empties tables with DELETE, which the append-only triggers refuse, so they are dropped for the flush and
re-created right after (on PostgreSQL flush is TRUNCATE, which row triggers do not see and the runtime role may not
run)."""
from django.core.management.commands.flush import Command as FlushCommand
from django.db import connections

from jichitai.guard.db import apply_guards, drop_sqlite_triggers, owner_session


class Command(FlushCommand):
    def handle(self, **options):
        conn = connections[options["database"]]
        with owner_session("flush"):
            if conn.vendor == "sqlite":
                drop_sqlite_triggers(conn)
            try:
                return super().handle(**options)
            finally:
                if conn.vendor == "sqlite":
                    apply_guards(conn)
