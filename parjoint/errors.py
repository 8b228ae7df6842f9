"""User-facing errors.

Anything the user can fix (a bad file, key, value or path) is an :class:`InputError`.
The command line prints its message as one line and exits with code 2.  Under MPI an
error must be *collective* (raised on every rank) to exit cleanly; the helpers in
:mod:`parjoint.parallel` make it so.  A non-collective error aborts the whole job
(``MPI_Abort``) rather than leaving other ranks waiting in a collective call.
"""


class InputError(Exception):
    """Bad user input; the message names the file, line or key at fault."""

    def __init__(self, message: str, *, collective: bool = False):
        super().__init__(message)
        self.collective = collective
