"""A project's container module whose container lacks a provider a view needs, for
``python -m injectq_like check integration_django_app.project:container``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from injectq_like.integrations.django import setup

from .service import make_container

container = make_container(Path(tempfile.gettempdir()) / "injectq_like_django_project.sqlite", with_remote=False)
setup(container)
