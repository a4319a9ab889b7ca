"""`migrate`, run as the login role (the schema owner): PostgreSQL's runtime role may not change the schema.
Policies, grants and append-only triggers are re-applied afterwards (post_migrate, `jichitai.guard.db`)."""
from django.core.management.commands.migrate import Command as MigrateCommand

from jichitai.guard.db import owner_session


class Command(MigrateCommand):
    def handle(self, *args, **options):
        with owner_session("migrate"):
            return super().handle(*args, **options)
