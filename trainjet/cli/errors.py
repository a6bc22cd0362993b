"""The CLI edge of the error tree: what exit status a `TrainjetError` ends a command with.

2 is a usage error (the user can fix the command or its input), 1 anything else; the same
split as `CliError` and Typer's own usage errors.
"""

from __future__ import annotations

from trainjet.core.errors import InvalidRequest, TrainjetError, Unauthorized

EXIT_CODES: dict[type[TrainjetError], int] = {
    TrainjetError: 1,
    InvalidRequest: 2,
    Unauthorized: 2,
}


def exit_code(exc: TrainjetError) -> int:
    """The table's code for the most specific class of `exc` that has one."""
    for cls in type(exc).__mro__:
        code = EXIT_CODES.get(cls)
        if code is not None:
            return code
    return 1
