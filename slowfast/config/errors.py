"""The error type for mistakes a user can fix in a config or on the command line."""


class ConfigError(ValueError):
    """A config problem the user can act on; tools print it and exit with status 2."""
