"""What the guard found, where, and how to fix it; rendered as text, JSON or GitHub annotations.

A `Finding` names a stable rule id (documented in docs/guard.md), the place (file:line and
the key path), the offending value, the limit it broke and the fix. Invalid input files
(a TOML syntax error) become findings of rule `input.invalid` and an unknown target one of
`target.unknown`, so one renderer shows everything `lint` has to say in a single format.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import orjson

from loadgen.errors import Problem
from loadgen.inputs.tomlsource import KeyLines

Severity = Literal["refusal", "warning"]
INVALID = "input.invalid"
UNKNOWN_TARGET = "target.unknown"
INVALID_RULES = frozenset({INVALID, UNKNOWN_TARGET})  # lint exits 3 on these
FORMATS = ("text", "json", "github")


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    path: str = ""  # key path such as `load.stages[2].target`
    value: object = None
    limit: object = None
    fix: str | None = None
    approved: bool = False  # a refusal that a valid approval covers
    approval: str | None = None  # then: who approved it, up to what, until when

    @property
    def blocking(self) -> bool:
        return self.severity == "refusal" and not self.approved

    def where(self) -> str:
        place = shown_path(self.file) or "<input>"
        return f"{place}:{self.line}" if self.line is not None else place

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "approved": self.approved,
            "approval": self.approval,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "value": _plain(self.value),
            "limit": _plain(self.limit),
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class Locator:
    """Places findings of one profile: its file name and the line of each key path."""

    file: str | None
    lines: KeyLines | None = None

    def finding(
        self,
        rule: str,
        severity: Severity,
        message: str,
        path: str = "",
        *,
        value: object = None,
        limit: object = None,
        fix: str | None = None,
    ) -> Finding:
        line = self.lines.line_of(path) if self.lines is not None and path else None
        return Finding(rule, severity, message, self.file, line, path, value, limit, fix)


def from_problem(problem: Problem) -> Finding:
    """An input-file problem (exit 3 in lint) as a finding of rule `input.invalid`."""
    return Finding(
        INVALID,
        "refusal",
        problem.message,
        problem.file,
        problem.line,
        problem.path,
        problem.value,
        None,
        problem.fix,
    )


@dataclass(frozen=True, slots=True)
class Summary:
    files: int
    refusals: int
    approved: int
    warnings: int
    invalid: int

    @classmethod
    def of(cls, findings: Sequence[Finding], files: int) -> Summary:
        checks = [f for f in findings if f.rule not in INVALID_RULES]
        return cls(
            files=files,
            refusals=sum(f.blocking for f in checks),
            approved=sum(f.approved for f in checks),
            warnings=sum(f.severity == "warning" for f in checks),
            invalid=sum(f.rule in INVALID_RULES for f in findings),
        )

    def text(self) -> str:
        files = f"{self.files} file{'s' if self.files != 1 else ''} checked"
        parts = [
            _count(self.refusals, "refusal"),
            _count(self.warnings, "warning"),
            _count(self.invalid, "invalid-input problem"),
        ]
        if self.approved:
            parts.insert(1, f"{self.approved} refusal{'s' if self.approved != 1 else ''} approved")
        return f"{files}: {', '.join(parts)}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _plain(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def describe(f: Finding) -> str:
    """The message with its value, limit and fix, on one line; an approved refusal says who
    approved it instead of a fix nobody needs to apply."""
    text = f.message
    if measured := _measured(f):
        text += f" ({measured})"
    if then := _remedy(f):
        text += f"; {then}"
    return text


def _remedy(f: Finding) -> str:
    if f.approved:  # nothing to fix: say whose approval covers it, if known
        return f.approval or ""
    return f"fix: {f.fix}" if f.fix else ""


def _measured(f: Finding) -> str:
    details = []
    if f.value is not None:
        details.append(f"value {_show(f.value)}")
    if f.limit is not None:
        details.append(f"limit {_show(f.limit)}")
    return ", ".join(details)


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render_text(findings: Sequence[Finding], files: int) -> str:
    lines = [_text_line(f) for f in findings]
    lines.append(Summary.of(findings, files).text())
    return "\n".join(lines) + "\n"


def _text_line(f: Finding) -> str:
    label = "error" if f.rule in INVALID_RULES else ("approved" if f.approved else f.severity)
    key = f" {f.path}:" if f.path else ""
    line = f"{f.where()}: {label} [{f.rule}]{key} {describe(f)}"
    return " ".join(line.splitlines())  # one finding, one line, whatever the message holds


def render_json(findings: Sequence[Finding], files: int) -> str:
    summary = Summary.of(findings, files)
    doc = {
        "findings": [f.to_dict() for f in findings],
        "summary": {
            "files": summary.files,
            "refusals": summary.refusals,
            "approved": summary.approved,
            "warnings": summary.warnings,
            "invalid": summary.invalid,
        },
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def escape_data(text: str) -> str:
    """GitHub workflow-command data: `%`, CR and LF are percent-encoded (`%` first)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow-command property value also encodes `:` and `,`, its separators."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: Sequence[Finding], files: int) -> str:
    lines = [_annotation(f) for f in findings]
    lines.append(Summary.of(findings, files).text())
    return "\n".join(lines) + "\n"


def _annotation(f: Finding) -> str:
    command = "notice" if f.approved else "warning" if f.severity == "warning" else "error"
    props = []
    if f.file:
        props.append(f"file={escape_property(f.file)}")
    if f.line is not None:
        props.append(f"line={f.line}")
    props.append(f"title={escape_property(f.rule)}")
    body = f"{f.path}: {f.message}" if f.path else f.message
    lines = [f"approved: {body}" if f.approved else body]
    if measured := _measured(f):
        lines.append(measured)
    if then := _remedy(f):
        lines.append(then)
    message = "\n".join(lines)
    return f"::{command} {','.join(props)}::{escape_data(message)}"


def shown_path(file: str | None, cwd: Path | None = None) -> str | None:
    """`file` relative to the working directory when it lies under it (GitHub places an
    annotation only by a repository-relative path); anything else as given."""
    if file is None or not os.path.isabs(file):
        return file
    base = cwd or Path.cwd()
    try:
        return str(Path(file).relative_to(base))
    except ValueError:
        return file


def render(findings: Iterable[Finding], fmt: str, files: int) -> str:
    items = [replace(f, file=shown_path(f.file)) for f in findings]
    if fmt == "json":
        return render_json(items, files)
    if fmt == "github":
        return render_github(items, files)
    if fmt == "text":
        return render_text(items, files)
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
