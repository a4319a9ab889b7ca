from django.apps import AppConfig


class Config(AppConfig):
    name = "jichitai.matching"
    label = "matching"
    verbose_name = "住民記録との照合"
