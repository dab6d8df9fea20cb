"""Preference optimisation: losses, batch collation, and one explicit LoRA training loop."""
