"""The exception tree and the exit codes: each branch of the tree maps to one `ExitCode`
(the mapping is the CLI's `errors_to_exit_codes`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """loadgen's exit codes, a public contract: the README's table is tested against them."""

    meaning: str  # the one line the README's table gives

    def __new__(cls, code: int, meaning: str) -> ExitCode:
        member = int.__new__(cls, code)
        member._value_ = code
        member.meaning = meaning
        return member

    OK = 0, "ran, all thresholds passed (or lint clean)"
    LINT_FINDINGS = 1, "lint found refusals / problems"
    USAGE = 2, "usage error (bad flags)"
    INVALID_INPUT = 3, "invalid profile or targets file"
    REFUSED = 4, "refused by the guard (no valid approval)"
    SAFETY_STOP = 5, "safety stop triggered during the run"
    RESULTS_NOT_WRITTEN = (
        6,
        "results not written where asked (saved to the fallback path printed; "
        "the run's status is in it)",
    )
    THRESHOLDS_FAILED = 99, "thresholds failed"
    INTERRUPTED = 130, "interrupted by the user (results still written)"


class LoadgenError(Exception):
    """Base of every error loadgen reports to a user (never a traceback)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input file: where, what, and how to fix it."""

    path: str  # key path such as `load.stages[2].target`, or "" for the whole file
    message: str
    file: str | None = None
    line: int | None = None
    value: object = None
    fix: str | None = None

    def render(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        key = f" {self.path}:" if self.path else ""
        text = f"{where}:{key} {self.message}"
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.fix:
            text += f"; {self.fix}"
        return text


class InvalidInputError(LoadgenError):
    """An input file (profile, targets, approval) has problems; all of them are listed."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        plural = "s" if len(problems) != 1 else ""
        lines = [f"{len(problems)} problem{plural} found:"]
        lines += [f"  - {p.render()}" for p in problems]
        super().__init__("\n".join(lines))


class ProfileError(InvalidInputError):
    """The profile TOML is invalid."""


class TargetError(InvalidInputError):
    """The targets TOML is invalid, or the named target does not exist."""


class GuardRefusal(LoadgenError):
    """The guard refused to run the profile against the target."""


class SafetyStop(LoadgenError):
    """The run was stopped because the target started failing."""


class UsageError(LoadgenError):
    """Bad command-line flags or arguments that typer itself cannot catch."""


class ScenarioExhausted(LoadgenError):
    """A scenario has nothing more to send (a replay file reached its end)."""


class ResultsNotWritten(LoadgenError):
    """The results artifact could not be written where asked, nor anywhere else."""
