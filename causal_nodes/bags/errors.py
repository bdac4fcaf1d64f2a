"""The one error type of the bag tools.

It subclasses ValueError so that the CLI (which turns ValueError into a one-line message and exit code 2) and
callers that already handle bad input treat a broken bag like any other bad input.
"""
from __future__ import annotations


class BagError(ValueError):
    """A bag (or a request about one) that cannot be honoured; the message names the bag, topic or type."""
