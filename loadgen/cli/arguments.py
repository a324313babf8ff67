"""What the commands share: typer's settings, the PROFILE argument and the target options,
reading the inputs they name into one plan, and loadgen's errors turned into the
documented exit codes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, NoReturn, ParamSpec, TypeVar

import typer

from loadgen.arrivals.plan import Plan
from loadgen.errors import (
    ExitCode,
    GuardRefusal,
    InvalidInputError,
    LoadgenError,
    ResultsNotWritten,
    SafetyStop,
    UsageError,
)
from loadgen.inputs.models import Profile
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import Target, load_targets, resolve_target
from loadgen.inputs.targets_file import find_targets_file, targets_file_candidates

# `-h` as well as `--help`, on every command (subcommands inherit the context settings).
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
# Plain click-style help: typer's rich panels label every flag (even --help) `<bool>`, as
# if it took a value; the plain layout shows flags as flags and `--x / --no-x` pairs.
HELP_MODE = None


def sub_app(help_text: str) -> typer.Typer:
    """A group of subcommands (`loadgen approve …`, `loadgen k8s …`) with the app's help
    conventions: `-h`, and help shown when no subcommand is given."""
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        context_settings=CONTEXT_SETTINGS,
        rich_markup_mode=HELP_MODE,
    )


P = ParamSpec("P")
R = TypeVar("R")

ProfileArg = Annotated[
    Path,
    typer.Argument(
        help="The profile TOML file.", dir_okay=False, show_default=False, metavar="PROFILE"
    ),
]
TargetOpt = Annotated[
    str,
    typer.Option(
        "--target", "-t", help="A target named in targets.toml; `local` is the embedded mock."
    ),
]
TargetsOpt = Annotated[
    Path | None,
    typer.Option(
        "--targets", help="The targets file (default: beside the profile, then ./targets.toml)."
    ),
]


def errors_to_exit_codes(func: Callable[P, R]) -> Callable[P, R]:
    """Turn loadgen's exceptions into a message on stderr and the documented exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except InvalidInputError as exc:
            fail(str(exc), ExitCode.INVALID_INPUT)
        except GuardRefusal as exc:
            fail(f"refused: {exc}", ExitCode.REFUSED)
        except SafetyStop as exc:
            fail(f"safety stop: {exc}", ExitCode.SAFETY_STOP)
        except UsageError as exc:
            fail(f"usage: {exc}", ExitCode.USAGE)
        except ResultsNotWritten as exc:
            fail(str(exc), ExitCode.RESULTS_NOT_WRITTEN)
        except LoadgenError as exc:
            fail(str(exc), ExitCode.INVALID_INPUT)
        except KeyboardInterrupt:  # typer would say "Aborted!" and exit 1
            fail("interrupted", ExitCode.INTERRUPTED)

    return wrapper


def fail(message: str, code: ExitCode) -> NoReturn:
    typer.echo(f"loadgen: {message}", err=True)
    raise typer.Exit(code)


def load_plan(profile_path: Path, target_name: str, targets_path: Path | None) -> Plan:
    """Read the profile and its target, collecting the problems of both before failing, and
    resolve them once into the plan that every later step reads (guard, brief, run)."""
    problems = []
    profile: Profile | None = None
    target: Target | None = None
    try:
        profile = load_profile(profile_path)
    except InvalidInputError as exc:
        problems += exc.problems
    try:
        source = find_targets_file(profile_path, targets_path)
        searched = targets_file_candidates(profile_path, targets_path)
        target = resolve_target(target_name, load_targets(source), source, searched)
    except InvalidInputError as exc:
        problems += exc.problems
    if problems or profile is None or target is None:
        raise InvalidInputError(problems)
    return Plan.build(profile, target)
