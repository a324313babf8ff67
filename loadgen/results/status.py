"""How a run ended, as the engine reports it and the artifact records it.

Its own module, importing only the exit codes, so that the engine (on the run's side)
and the artifact (on the results' side) share one definition without the engine importing
the artifact's JSON Schema machinery.
"""

from __future__ import annotations

from typing import Literal

from loadgen.errors import ExitCode

RunStatus = Literal["completed", "interrupted", "aborted"]
# Merging artifacts keeps the worst status of its parts.
STATUS_SEVERITY: dict[RunStatus, int] = {"completed": 0, "interrupted": 1, "aborted": 2}
# The process's exit code after a run that ended so (the README's table).
EXIT_CODE_OF_STATUS: dict[RunStatus, ExitCode] = {
    "completed": ExitCode.OK,
    "interrupted": ExitCode.INTERRUPTED,
    "aborted": ExitCode.SAFETY_STOP,
}
