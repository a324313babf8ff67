"""Where `targets.toml` is looked for, and what to say when it is not found.

`--targets FILE` if given, else `targets.toml` beside the profile, else in the working
directory; the CLI, lint and `loadgen init` share these names and texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from loadgen.inputs.files import display_path

TARGETS_FILE = "targets.toml"
INIT_HINT = "run `loadgen init` to write a starter targets.toml"


def targets_file_candidates(profile_path: Path | None, explicit: Path | None) -> list[Path]:
    """Where a targets file is looked for, in order: `--targets`, beside the profile, cwd."""
    if explicit is not None:
        return [explicit]
    candidates = [profile_path.parent / TARGETS_FILE] if profile_path else []
    cwd_file = Path(TARGETS_FILE)  # relative: it names the file as the user sees it
    if not any(c.resolve() == cwd_file.resolve() for c in candidates):
        candidates.append(cwd_file)
    return candidates


def find_targets_file(profile_path: Path | None, explicit: Path | None) -> Path | None:
    """`--targets` if given, else targets.toml beside the profile, else in the cwd."""
    if explicit is not None:
        return explicit
    candidates = targets_file_candidates(profile_path, None)
    return next((c for c in candidates if c.is_file()), None)


def no_targets_file_text(searched: Sequence[Path]) -> str:
    """Where a targets file was looked for in vain (the CLI and lint say it alike)."""
    places = ", ".join(display_path(p) for p in searched) or TARGETS_FILE
    return f"no targets file found (searched {places})"
