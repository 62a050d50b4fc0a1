"""injectq_like: async-first, type-annotation-driven dependency injection for asyncio and trio."""

from ._container import Container as Container
from ._inject import inject as inject
from ._keys import Named as Named
from ._markers import Inject as Inject
from ._markers import Lazy as Lazy
from ._providers import Scope as Scope
from ._registrations import Module as Module
from ._scope import AsyncRequestScope as AsyncRequestScope
from .exceptions import AnnotationError as AnnotationError
from .exceptions import AsyncProviderError as AsyncProviderError
from .exceptions import CircularDependencyError as CircularDependencyError
from .exceptions import DIError as DIError
from .exceptions import InvalidContainerError as InvalidContainerError
from .exceptions import MissingProviderError as MissingProviderError
from .exceptions import NoActiveScopeError as NoActiveScopeError
from .exceptions import RegistrationError as RegistrationError
from .exceptions import ScopeError as ScopeError

__all__ = [
    "AnnotationError",
    "AsyncProviderError",
    "AsyncRequestScope",
    "CircularDependencyError",
    "Container",
    "DIError",
    "Inject",
    "InvalidContainerError",
    "Lazy",
    "MissingProviderError",
    "Module",
    "Named",
    "NoActiveScopeError",
    "RegistrationError",
    "Scope",
    "ScopeError",
    "inject",
]

__version__ = "0.1.0.dev0"
