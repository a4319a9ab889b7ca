from django.apps import AppConfig


class Config(AppConfig):
    name = "jichitai.privacy"
    label = "privacy"
    verbose_name = "個人情報の読取方針"
