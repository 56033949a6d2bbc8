"""Exceptions raised by hepattn.

Every problem with a user's input is reported as a :class:`HepattnError` subclass whose
message names the file, tree, branch or value at fault, so that a physicist never has to
read a traceback from deep inside uproot or awkward.
"""


class HepattnError(Exception):
    """Base class of every error hepattn raises on purpose."""


class DataError(HepattnError, ValueError):
    """A data file, tree, branch or value cannot be used as asked."""


class InputNotFoundError(DataError, FileNotFoundError):
    """A path or glob names no file."""


class SchemaError(HepattnError, ValueError):
    """A schema is malformed, or does not fit the file it is applied to."""


class SchemaMismatchError(DataError):
    """A file lacks the tree or a branch that the schema reads; the message names the
    built-in schema that fits the file, if one does."""
