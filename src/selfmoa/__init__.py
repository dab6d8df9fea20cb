"""selfmoa: Self Multi-Objective Alignment of small language models with weak supervision."""

__version__ = "0.1.0"

# The composition root: declare every generation backend (its settings class and its
# generator, each in its own module of selfmoa/backends) before any config is read.
# Core's config schema reads the declared settings classes and imports no backend.
from selfmoa.backends.registry import discover as _declare_backends  # noqa: E402

_declare_backends()
