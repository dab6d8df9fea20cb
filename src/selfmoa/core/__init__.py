"""Core: configuration, records, the run directory, atomic I/O and model files.

Imports no other selfmoa layer; every other layer may import it.
"""
