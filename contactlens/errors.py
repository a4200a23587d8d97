"""Errors meant for the person at the keyboard: one line that says what is wrong and where."""


class ContactLensError(Exception):
    """A problem with the user's input (a file, a taxonomy, a model directory).

    The CLI prints its message as one line and exits with status 2; the service maps it to a 4xx.
    """


class DataError(ContactLensError):
    """A data file that cannot be used as it is."""


class TaxonomyError(ContactLensError):
    """A taxonomy file that does not validate."""


class ModelError(ContactLensError):
    """A model directory that is not a usable artifact."""


class NotFoundError(ContactLensError):
    """A record the request names does not exist (the service answers 404)."""


class ConflictError(ContactLensError):
    """The request conflicts with what is stored (the service answers 409)."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an error, at most `limit` characters, for one-line messages and log lines.

    Driver, parser and runtime errors run to many lines; an empty message gives the error's type name.
    """
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:limit]
