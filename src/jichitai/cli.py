"""The `jichitai` command: Django's management commands with the project's settings.

`jichitai audit verify`, `jichitai seed_demo`, `jichitai migrate`, `jichitai runserver` …
"""
import os
import sys


def main(argv=None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jichitai.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["jichitai", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    main()
