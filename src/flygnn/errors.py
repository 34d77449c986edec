"""The one exception type a user sees as a message instead of a traceback."""


class FlygnnError(Exception):
    """A problem the user can act on: say what is wrong, where, and what to do.

    The CLI prints ``error: <message>`` and exits with status 2; library callers
    catch it like any exception.
    """
