"""The files a fleet's pods read, gathered for one ConfigMap mounted at `/config`: the
profile, the targets file, the approval beside the profile when there is one, and the
replay files the profile references (at the same paths relative to the profile, so the
profile reads them unchanged). A ConfigMap holds at most 1 MiB: bigger is refused here,
with the file to blame, rather than by the API server at `kubectl apply`."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from loadgen.errors import Problem, ProfileError, UsageError
from loadgen.inputs.files import UnreadableInput, display_path, open_regular
from loadgen.inputs.models import Profile
from loadgen.inputs.tomlsource import KeyLines

CONFIGMAP_LIMIT_BYTES = 1024 * 1024  # etcd's limit on one object, what the API server enforces
METADATA_ALLOWANCE_BYTES = 16 * 1024  # names, labels, YAML overhead: kept free under the limit
TARGETS_FILE = "targets.toml"  # the name the pods read it under, whatever its name here
_KEY_OK = re.compile(r"[-._a-zA-Z0-9]+")  # what the API server accepts as a ConfigMap key


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """One file of the ConfigMap: its key, where it appears under `/config`, its bytes."""

    key: str
    mount_path: str  # relative to /config
    content: bytes
    origin: str  # the file here, as problems name it

    @property
    def text(self) -> str | None:
        """The content as text for `data`, or None when it must go to `binaryData`."""
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError:
            return None

    @property
    def stored_size(self) -> int:
        """Bytes it takes in the ConfigMap (base64 grows binary content by a third)."""
        if self.text is not None:
            return len(self.content)
        return len(base64.b64encode(self.content))


def gather(profile: Profile, targets_file: Path, approval_file: Path) -> list[ConfigFile]:
    """The fleet's files; refuses a replay file outside the profile's folder, an unreadable
    one, and a total over what a ConfigMap holds."""
    profile_name = profile.path.name
    if not _KEY_OK.fullmatch(profile_name):
        raise UsageError(
            f"{display_path(profile.path)}: the profile's file name must be letters, digits, "
            "'-', '_' or '.' to be a ConfigMap key; rename it"
        )
    files = [
        _read(profile.path, profile_name, profile_name),
        _read(targets_file, TARGETS_FILE, TARGETS_FILE),
    ]
    if approval_file.is_file():
        files.append(_read(approval_file, approval_file.name, approval_file.name))
    files += _replay_files(profile)
    _check_size(files)
    return files


def _read(path: Path, key: str, mount_path: str) -> ConfigFile:
    with open_regular(path, "input") as handle:
        return ConfigFile(key, mount_path, handle.read(), display_path(path))


def _replay_files(profile: Profile) -> list[ConfigFile]:
    files, problems = [], []
    lines = profile.lines or KeyLines()
    for index, spec in enumerate(profile.scenarios):
        if spec.replay is None:
            continue
        key_path = f"scenarios[{index}].replay.file"
        where = (str(profile.path), lines.line_of(key_path))
        relative = PurePosixPath(spec.replay.file)
        if relative.is_absolute() or ".." in relative.parts:
            fix = "put the replay file in the profile's folder (or below) and name it relative"
            problems.append(
                Problem(
                    key_path,
                    "a fleet mounts replay files beside the profile: this one is outside it",
                    *where,
                    spec.replay.file,
                    fix=fix,
                )
            )
            continue
        key = f"replay-{index}-{_key_safe(relative.name)}"
        try:
            files.append(_read(profile.path.parent / relative, key, str(relative)))
        except UnreadableInput as exc:
            problems.append(Problem(key_path, exc.message, *where, spec.replay.file, fix=exc.fix))
    if problems:
        raise ProfileError(problems)
    return files


def _key_safe(name: str) -> str:
    return re.sub(r"[^-._a-zA-Z0-9]", "_", name)[:200]


def _check_size(files: list[ConfigFile]) -> None:
    """All of it within a ConfigMap, with room left for its metadata."""
    total = sum(f.stored_size + len(f.key) for f in files)
    room = CONFIGMAP_LIMIT_BYTES - METADATA_ALLOWANCE_BYTES
    if total <= room:
        return
    biggest = max(files, key=lambda f: f.stored_size)
    raise ProfileError(
        [
            Problem(
                "",
                f"the fleet's files take {total:,} bytes, more than a ConfigMap holds "
                f"({room:,} bytes, 1 MiB less room for its metadata); the biggest is "
                f"{biggest.origin} ({biggest.stored_size:,} bytes)",
                biggest.origin,
                fix="shorten the replay file, or build it into the image and reference it "
                "from there",
            )
        ]
    )
