from django.apps import AppConfig


class Config(AppConfig):
    name = "jichitai.migration"
    label = "legacy_migration"
