"""A generator that loads its model on first use, so a resumed stage that needs no new
generation never loads one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selfmoa.backends.base import TextGenerator


class LazyGenerator:
    """Loads a model only when a chunk actually needs it (a resumed stage may not)."""

    def __init__(self, factory: Callable[[], TextGenerator]) -> None:
        self.factory = factory
        self.generator: TextGenerator | None = None

    def get(self) -> TextGenerator:
        if self.generator is None:
            self.generator = self.factory()
        return self.generator

    def generate(self, *args: Any, **kwargs: Any) -> list[str]:
        return self.get().generate(*args, **kwargs)

    def close(self) -> None:
        if self.generator is not None:
            self.generator.close()
            self.generator = None
