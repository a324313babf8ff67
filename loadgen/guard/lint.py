"""`loadgen lint` as a function, and `preflight`: the guard as every command applies it.

`preflight` reads what `evaluate` must not (the approval file beside the profile), places
the findings about the target on its targets file's lines and returns the verdict; `lint`
runs it over many profiles and renders the findings in one format with the documented
exit code.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import orjson

from loadgen.arrivals.plan import Plan
from loadgen.errors import ExitCode, InvalidInputError, UsageError
from loadgen.guard.approvals import Approval, ApprovalError, approval_path, load_approval
from loadgen.guard.findings import FORMATS, INVALID_RULES, Finding, from_problem, render
from loadgen.guard.limits import unknown_target
from loadgen.guard.rules import Verdict, evaluate
from loadgen.inputs.files import display_path
from loadgen.inputs.models import Profile
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import Target, load_targets
from loadgen.inputs.targets_file import (
    find_targets_file,
    no_targets_file_text,
    targets_file_candidates,
)


def approval_beside(profile_path: Path) -> tuple[Approval | None, ApprovalError | None]:
    """The approval file next to the profile, if there is one, or why it cannot be used."""
    path = approval_path(profile_path)
    if not path.exists():
        return None, None
    try:
        return load_approval(path), None
    except ApprovalError as exc:
        return None, exc


def preflight(plan: Plan, *, now: datetime) -> Verdict:
    """The guard's verdict with the approval file beside the profile picked up, and the
    findings about the target placed on their line of its targets file."""
    approval, error = approval_beside(plan.profile.path)
    verdict = evaluate(plan, approval=approval, now=now, approval_error=error)
    return replace(verdict, findings=place_in_targets_file(verdict.findings, plan.target))


def place_in_targets_file(findings: tuple[Finding, ...], target: Target) -> tuple[Finding, ...]:
    """Give a line to each finding about a `targets.NAME...` key of the target's own file
    (the pure rules know the key, not the file's layout; the targets reader found the lines)."""
    if target.source is None or target.lines is None:
        return findings
    return tuple(
        replace(f, line=target.line_of(f.path)) if _about_target_key(f, target.source) else f
        for f in findings
    )


def _about_target_key(f: Finding, source: str) -> bool:
    return f.file == source and f.line is None and f.path.startswith("targets.")


def lint(
    paths: list[Path],
    target_name: str,
    targets_path: Path | None,
    *,
    strict: bool,
    fmt: str,
    now: datetime,
) -> tuple[str, ExitCode]:
    """Check every profile against the target; return the rendered output and exit code.

    Exit 0 clean, 1 refusals (or warnings with `strict`), 3 an invalid input file.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    found: list[Finding] = []
    for path in paths:
        found += lint_one(path, target_name, targets_path, now=now)
    found = _unique(found)
    return render(found, fmt, len(paths)), exit_code(found, strict=strict)


def lint_one(
    path: Path, target_name: str, targets_path: Path | None, *, now: datetime
) -> list[Finding]:
    """The findings for one profile, with its input problems as `input.invalid`."""
    problems: list[Finding] = []
    profile: Profile | None = None
    target: Target | None = None
    try:
        profile = load_profile(path)
    except InvalidInputError as exc:
        problems += [from_problem(p) for p in exc.problems]
    source = find_targets_file(path, targets_path)
    try:
        targets = load_targets(source)
        target = targets.get(target_name)
        if target is None:
            shown = display_path(source) if source else None
            no_file = no_targets_file_text(targets_file_candidates(path, targets_path))
            problems.append(unknown_target(target_name, list(targets), shown, no_file))
    except InvalidInputError as exc:
        problems += [from_problem(p) for p in exc.problems]
    if problems or profile is None or target is None:
        return problems
    return list(preflight(Plan.build(profile, target), now=now).findings)


def exit_code(findings: list[Finding], *, strict: bool) -> ExitCode:
    if any(f.rule in INVALID_RULES for f in findings):
        return ExitCode.INVALID_INPUT
    if any(f.blocking for f in findings):
        return ExitCode.LINT_FINDINGS
    if strict and any(f.severity == "warning" for f in findings):
        return ExitCode.LINT_FINDINGS
    return ExitCode.OK


def _unique(findings: list[Finding]) -> list[Finding]:
    """Drop repeats (a broken targets file is reported once, not once per profile)."""
    seen: set[bytes] = set()
    result = []
    for f in findings:
        key = orjson.dumps(f.to_dict(), option=orjson.OPT_SORT_KEYS)
        if key not in seen:
            seen.add(key)
            result.append(f)
    return result
