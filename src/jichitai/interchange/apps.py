from django.apps import AppConfig


class Config(AppConfig):
    name = "jichitai.interchange"
    label = "interchange"
