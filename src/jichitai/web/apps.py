from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "jichitai.web"
    label = "web"
    verbose_name = "画面"
