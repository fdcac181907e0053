"""One exception type for problems the user can fix; the CLI prints its message as one line."""


class SpriteganError(Exception):
    """A user-facing error: the message names the file or option and says what is wrong."""


class DataError(SpriteganError):
    """Bad input data: unreadable images, wrong sizes, label files that do not match."""


class RunError(SpriteganError):
    """A run folder or checkpoint that cannot be used as asked."""
