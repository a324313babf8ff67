"""The exception tree. Each branch maps to one documented exit code in `cli.py`."""

from __future__ import annotations

from dataclasses import dataclass


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
