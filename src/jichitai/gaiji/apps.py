from django.apps import AppConfig


class GaijiConfig(AppConfig):
    name = "jichitai.gaiji"
    label = "gaiji"
    verbose_name = "外字登録"
