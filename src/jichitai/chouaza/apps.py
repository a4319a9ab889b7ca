from django.apps import AppConfig


class Config(AppConfig):
    name = "jichitai.chouaza"
    label = "chouaza"
    verbose_name = "町字マスタ"
