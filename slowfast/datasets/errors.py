"""The error type for bad data: unreadable videos, missing frames and malformed annotations."""


class DataError(ValueError):
    """A data problem a user can act on; the message names the file (and line) at fault."""
