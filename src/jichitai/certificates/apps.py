from django.apps import AppConfig


class Config(AppConfig):
    name = "jichitai.certificates"
    label = "certificates"
    verbose_name = "証明書"
