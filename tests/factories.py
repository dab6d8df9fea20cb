"""Small record builders shared by the tests."""

from typing import Any

from selfmoa.core.records import Prompt


def make_prompt(prompt_id: str = "p", label: str = "harmful", **fields: Any) -> Prompt:
    """A kept round-0 prompt; any field can be overridden."""
    values: dict[str, Any] = {
        "id": prompt_id,
        "round": 0,
        "text": f"text {prompt_id}",
        "label": label,
        "source": "s",
        "strategy": "direct",
        "seed_id": prompt_id,
        "seed_text": "t",
    }
    values.update(fields)
    return Prompt(**values)
