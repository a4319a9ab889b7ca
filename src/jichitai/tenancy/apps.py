from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "jichitai.tenancy"
    label = "tenancy"
    verbose_name = "テナント（自治体）"
