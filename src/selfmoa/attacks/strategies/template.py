"""The template strategy: a PyRIT jailbreak template filled with the request.

The red-team stage draws the templates (``selfmoa.data.sources.jailbreak_templates``)
and records each attack as ``jailbreak:TEMPLATE``.
"""

from __future__ import annotations

from selfmoa.attacks.strategies.registry import Strategy, register_strategy

register_strategy(
    Strategy("jailbreak", "template", "a PyRIT jailbreak template around the request")
)
