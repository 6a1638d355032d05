#!/usr/bin/env python
"""Django's command-line utility for Reelscore."""

import os
import sys

# Commands that only compare models with migration files: they never sign anything, so they run
# without the production SECRET_KEY (CI or a pre-commit check has none). Every other command,
# the web server and the workers still refuse to start without one.
KEYLESS_COMMANDS = {"makemigrations", "showmigrations", "sqlmigrate"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if len(sys.argv) > 1 and sys.argv[1] in KEYLESS_COMMANDS:
        os.environ.setdefault("SECRET_KEY", f"never-used-by-{sys.argv[1]}")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        _ = settings.INSTALLED_APPS  # read now: a setting missing or made wrong is said in its own words, not a traceback
    except ImproperlyConfigured as exc:
        sys.exit(f"manage.py: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
