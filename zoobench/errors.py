"""The one exception the CLI turns into a single stderr line and exit code 2."""


class ZooError(Exception):
    """Bad usage or bad input: unknown model, bad option, unreadable or hostile file."""
