from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "jichitai.tenancy"
    label = "tenancy"
    verbose_name = "テナント（自治体）"

    def ready(self):
        from django.db.models.signals import post_migrate

        from .roles import ensure_default_roles

        def _defaults(sender, using="default", **kwargs):
            ensure_default_roles(using=using)

        # After migrate, and after a flush (TransactionTestCase), every role has a definition again.
        post_migrate.connect(_defaults, sender=self, weak=False, dispatch_uid="tenancy-default-roles")
