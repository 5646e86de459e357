"""Errors a user can fix: bad input files, fields, paths or stale results.

Every such error is an :class:`InputError`. Its message is one line that names the file (or
option) and the field at fault and says what is allowed; the command line prints it and exits
with code 2, without a traceback and without writing anything.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from the user: one line naming the file or option, the field and what is allowed."""
