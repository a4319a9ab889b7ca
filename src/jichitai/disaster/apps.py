from django.apps import AppConfig


class Config(AppConfig):
    name = "jichitai.disaster"
    label = "disaster"
    verbose_name = "災害対応"
