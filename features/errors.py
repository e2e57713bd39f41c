"""The one exception ctframe raises for bad input; the CLI prints its message and exits non-zero."""


class CtframeError(Exception):
    """Bad input or configuration, with a message that names what and where."""
