from django.apps import AppConfig


class ResidentsConfig(AppConfig):
    name = "jichitai.residents"
    label = "residents"
    verbose_name = "住民記録"
