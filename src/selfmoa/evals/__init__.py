"""Evaluation beyond attack success: capability drift and answer degeneration."""
