from django.apps import AppConfig


class Config(AppConfig):
    name = "jichitai.platform"
    label = "platform"
    verbose_name = "共同利用の運営（設定の階層・フィットギャップ・割り勘・契約終了）"
    default_auto_field = "django.db.models.BigAutoField"
