"""A settings module, for a process that starts Django the usual way (``DJANGO_SETTINGS_MODULE``)."""

from __future__ import annotations

SECRET_KEY = "tests only"  # noqa: S105 - not a secret
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, object] = {}
USE_TZ = True
ROOT_URLCONF = "integration_django_app.urls"
MIDDLEWARE = ["injectq_like.integrations.django.ScopeMiddleware"]
ALLOWED_HOSTS = ["testserver"]
