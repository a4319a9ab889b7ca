"""jichitai.settings with ROOT_URLCONF pointing at loadapp.urls (the product's URLs + the anchor view)."""
from jichitai.settings import *  # noqa: F401,F403

ROOT_URLCONF = "loadapp.urls"
