import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

# Django's handler, building requests whose Content-Type cannot be parsed instead of failing (a 500).
from trailers.bodies import WSGIHandler  # noqa: E402

application = WSGIHandler()
