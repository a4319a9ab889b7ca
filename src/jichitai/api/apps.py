from django.apps import AppConfig


class Config(AppConfig):
    name = "jichitai.api"
    label = "api"
