"""A small Django article service for the django integration's tests: settings configured in
process (once, and compatible with another module having configured them first), SQLite through
the standard library's ``sqlite3``, a unit of work per request.
"""

from __future__ import annotations

import django  # type: ignore[import-untyped]
from django.apps import apps  # type: ignore[import-untyped]
from django.conf import settings  # type: ignore[import-untyped]

#: What each test applies with ``override_settings`` (settings may have been configured by another module).
SETTINGS = {
    "ROOT_URLCONF": "integration_django_app.urls",
    "MIDDLEWARE": ["injectq_like.integrations.django.ScopeMiddleware"],
    "ALLOWED_HOSTS": ["testserver"],
    "DEBUG": False,
}


def configure() -> None:
    """Configure Django for this process unless something did already, and set it up once."""
    if not settings.configured:
        settings.configure(
            SECRET_KEY="tests only",  # noqa: S106 - not a secret
            INSTALLED_APPS=[],
            DATABASES={},
            USE_TZ=True,
            **SETTINGS,
        )
    if not apps.ready:
        django.setup()
