from django.apps import AppConfig


class GuardConfig(AppConfig):
    """Database-side enforcement: row-level security, append-only triggers, the purge path (docs/architecture.md)."""

    name = "jichitai.guard"
    label = "guard"
    verbose_name = "データベースによる保護"

    def ready(self):
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from . import db

        connection_created.connect(db.on_connection_created, dispatch_uid="jichitai.guard.connection")
        post_migrate.connect(db.on_post_migrate, sender=self, dispatch_uid="jichitai.guard.post_migrate")
