"""The base of every config section: strict keys, finite numbers, bounded sizes.

It lives apart from ``config.py`` so that ``backend_settings.py`` (the base of every
backend's settings class) and ``config.py`` (whose ``backend`` field holds one) can share it
without importing each other.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator

MAX_TEXT_CHARS = 10_000  # any one string of the config
MAX_ITEMS = 1_000  # any one list or mapping of the config


class Section(BaseModel):
    """A config section: unknown keys, NaN/inf, and unbounded sizes are errors. Every
    number has its range on its field; every string and every list or mapping is bounded
    by ``MAX_TEXT_CHARS`` and ``MAX_ITEMS``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=MAX_TEXT_CHARS)

    @model_validator(mode="after")
    def _bounded_collections(self) -> Section:
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, list | dict) and len(value) > MAX_ITEMS:
                raise ValueError(f"{name} has {len(value)} entries; at most {MAX_ITEMS}")
        return self
