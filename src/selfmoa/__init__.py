"""selfmoa: Self Multi-Objective Alignment of small language models with weak supervision."""

__version__ = "0.1.0"
