"""The one exception type the command line turns into a single-line error message."""


class NSTError(Exception):
    """A user-facing error: bad input file, bad option, incompatible checkpoint, NaN loss.

    ``str(err)`` is the whole message; it names the file or option at fault.
    """
