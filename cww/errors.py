"""The one error type the CLI turns into a single readable line instead of a traceback."""


class CwwError(RuntimeError):
    """An expected failure, explained: what went wrong, where (table, row, file) and the fix."""
