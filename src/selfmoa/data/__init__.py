"""Seed, benchmark and benign-but-sensitive prompt sets (read from wheels, never imported)."""
