from django.apps import AppConfig


class Config(AppConfig):
    name = "jichitai.lists"
    label = "lists"
    verbose_name = "帳票（一覧・日計表）"
