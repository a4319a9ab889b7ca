from django.apps import AppConfig


class Config(AppConfig):
    name = "jichitai.continuity"
    label = "continuity"
    verbose_name = "業務継続（バックアップ・冗長化・ICT-BCP・オフラインキット）"
