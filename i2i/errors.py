"""Typed errors. The CLI prints a :class:`UsageError` as one ``error:`` line and exits 2.

Anything the *user* can fix (a bad flag, a config typo, a missing data folder, an unreadable
checkpoint) is a :class:`UsageError` or one of its subclasses. Every other exception is a bug
in i2i or a plugin: the CLI exits 1 and ``--verbose`` shows the traceback.
"""


class I2IError(Exception):
    """Base class of i2i's own errors."""


class UsageError(I2IError):
    """Something the user can fix; the message is one line naming the file/option at fault."""


class ConfigError(UsageError):
    """A config file, ``--set`` override or flag has an unknown key or a wrong value."""


class DataError(UsageError):
    """A data folder is missing, empty, has the wrong layout, or holds a bad file (strict mode)."""


class CheckpointError(UsageError):
    """A checkpoint is missing, corrupt, from another tool or incompatible."""


class PluginError(UsageError):
    """A plugin failed to load or registered conflicting names."""
