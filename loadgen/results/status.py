"""How a run ended, as the engine reports it and the artifact records it.

Its own module, importing only the exit codes, so that the engine (on the run's side)
and the artifact (on the results' side) share one definition without the engine importing
the artifact's JSON Schema machinery.
"""

from __future__ import annotations

from typing import Any, Literal

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


def exit_code_of(doc: dict[str, Any]) -> ExitCode:
    """The exit code of a run (or a merged fleet) by its artifact: a failed threshold makes
    a completed run, or one a threshold aborted, exit 99; an interruption or a safety stop
    keeps its own code, as k6 does."""
    status: RunStatus = doc["status"]
    failed = [t for t in doc.get("thresholds", []) if not t.get("passed", t.get("ok", True))]
    aborted_by_threshold = any(t.get("aborted_run") for t in failed)
    if failed and (status == "completed" or aborted_by_threshold):
        return ExitCode.THRESHOLDS_FAILED
    return EXIT_CODE_OF_STATUS[status]
