"""User-facing errors: the CLI prints these as one line, without a traceback."""


class SelfMoaError(Exception):
    """An error the user can fix (bad config, missing file, missing package)."""
