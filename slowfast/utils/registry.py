"""The registry every extension point of the package uses: fvcore's ``Registry`` (so
``@REGISTRY.register()`` works as in PySlowFast) plus registration under a chosen name, for config
values that are not Python identifiers or class names ("pyav", "cross_entropy"), and the sorted
``names()`` that error messages and the validation pass list."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fvcore.common.registry import Registry as _FvcoreRegistry

T = TypeVar("T")


class Registry(_FvcoreRegistry):
    """A name -> object table; the names are the values a config key accepts."""

    def register_as(self, name: str) -> Callable[[T], T]:
        """Decorator registering its object under ``name`` (``register()`` uses ``__name__``)."""

        def deco(obj: T) -> T:
            self._do_register(name, obj)
            return obj

        return deco

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(name for name, _ in self)
