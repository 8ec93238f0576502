"""What a serving image installs: conveyor with the flavor's extra, pinned.

``requirements.txt`` names conveyor (with only the extra the version's flavor needs, and
``onnx`` when the server will load the version's ONNX twin, as ``conveyor serve`` does
when the twin passed its parity check) and
pins the flavor's packages at the versions recorded when the version was registered (its
lineage ``environment``). A version registered before conveyor recorded them falls back
to this interpreter's versions, with a warning. ``constraints.txt`` pins the rest of
conveyor's dependencies at this interpreter's versions, so the image runs what was tested
here and pip has nothing to resolve.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conveyor.errors import ConveyorError
from conveyor.registry import ENVIRONMENT_KEY, ModelVersion, flavor_environment

__all__ = ["DISTRIBUTION", "BuildError", "Pins", "flavor_extras", "pins_for", "serves_twin"]

#: conveyor's own distribution name.
DISTRIBUTION = "conveyor-ml"

#: The flavors an image can serve, and the conveyor extra each one needs (``None``: none).
FLAVOR_EXTRAS: dict[str, str | None] = {
    "lightgbm": "boosting",
    "onnx": "onnx",
    "sklearn": None,
    "xgboost": "boosting",
}

#: Flavors conveyor knows but cannot install into an image from a package index, and why.
UNINSTALLABLE: dict[str, str] = {
    "pytorch": "it needs torch, whose pinned CPU build (the `torch` extra) installs only from "
    "a local wheel, not from a package index",
    "pickle": "a pickle can hold any Python object, so the packages it needs are unknown",
    "pyfunc": "a pyfunc model runs custom code whose requirements conveyor does not know",
}


class BuildError(ConveyorError):
    """A container build context or image cannot be made as asked."""

    code = "build_error"


@dataclass(frozen=True)
class Pins:
    """The install lists of one image.

    Attributes:
        requirements: Lines of ``requirements.txt`` (conveyor and the flavor's packages).
        constraints: Lines of ``constraints.txt`` (conveyor's other dependencies).
        python: The Python version the model was registered with (``3.11.7``).
        warnings: What the user should know (a fallback to this interpreter's versions).
    """

    requirements: tuple[str, ...]
    constraints: tuple[str, ...]
    python: str
    warnings: tuple[str, ...]


def serves_twin(version: ModelVersion) -> bool:
    """Whether a server of ``version`` loads its ONNX twin (it has one that passed parity)."""
    return bool(((version.onnx or {}).get("parity") or {}).get("passed"))


def flavor_extras(version: ModelVersion) -> list[str]:
    """The conveyor extras a server of the version needs: the flavor's, plus ``onnx`` when
    it serves the ONNX twin (empty: the core suffices).

    Raises:
        BuildError: the flavor cannot be installed into an image (torch, pickle, pyfunc,
            a plug-in flavor), naming it and why.
    """
    flavor = version.flavor
    if flavor in FLAVOR_EXTRAS:
        extras = {FLAVOR_EXTRAS[flavor], "onnx" if serves_twin(version) else None}
        return sorted(extra for extra in extras if extra is not None)
    why = UNINSTALLABLE.get(flavor, "conveyor does not know which packages this flavor needs")
    raise BuildError(
        f"Cannot build an image for {version.ref}: its flavor {flavor!r} is not supported "
        f"in an image ({why}).",
        hint="Register the model with a flavor an image can serve ("
        + ", ".join(sorted(FLAVOR_EXTRAS))
        + "), e.g. export it to ONNX and register that.",
        model=version.name,
        version=version.version,
        flavor=flavor,
    )


def pins_for(version: ModelVersion) -> Pins:
    """The requirements and constraints of an image serving ``version``.

    Raises:
        BuildError: the flavor cannot be installed (see :func:`flavor_extras`), a package
            it needs is not installable from an index (a local build such as ``2.1+cpu``),
            or conveyor itself is not installed as a distribution.
    """
    extras = flavor_extras(version)
    warnings: list[str] = []
    recorded = version.lineage.get(ENVIRONMENT_KEY)
    if not isinstance(recorded, dict) or not recorded.get("packages"):
        recorded = flavor_environment(version.flavor, twin=serves_twin(version))
        shown = ", ".join(f"{k}=={v}" for k, v in sorted(recorded["packages"].items()))
        warnings.append(
            f"{version.ref} records no package versions (registered before conveyor recorded "
            f"them): pinned this interpreter's instead ({shown}; Python {recorded['python']})."
        )
    packages: dict[str, str] = {str(k): str(v) for k, v in dict(recorded["packages"]).items()}
    for name, pinned in sorted(packages.items()):
        if "+" in pinned:
            raise BuildError(
                f"Cannot pin {name}=={pinned} for {version.ref}: it is a local build that no "
                "package index serves.",
                hint=f"Register the model in an environment with {name} from PyPI.",
                model=version.name,
                package=name,
            )
    own = _installed_version(DISTRIBUTION)
    head = f"{DISTRIBUTION}[{','.join(extras)}]" if extras else DISTRIBUTION
    requirements = [f"{head}=={own}", *(f"{k}=={v}" for k, v in sorted(packages.items()))]
    pinned_names = {canonicalize_name(k) for k in packages} | {canonicalize_name(DISTRIBUTION)}
    constraints = []
    for name, installed in sorted(_closure(DISTRIBUTION, extras).items()):
        if canonicalize_name(name) in pinned_names or "+" in installed:
            continue
        constraints.append(f"{name}=={installed}")
    return Pins(
        requirements=tuple(requirements),
        constraints=tuple(constraints),
        python=str(recorded.get("python") or platform.python_version()),
        warnings=tuple(warnings),
    )


def _installed_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError as exc:
        raise BuildError(
            f"{name} is not installed as a distribution, so its version cannot be pinned.",
            hint="Install conveyor with pip (`pip install -e .` in its source checkout).",
            package=name,
        ) from exc


def _closure(root: str, extras: Iterable[str]) -> dict[str, str]:
    """Every installed distribution ``root[extras]`` depends on, by name, with its version."""
    found: dict[str, str] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [(root, tuple(extras))]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name, wanted = todo.pop()
        key = (canonicalize_name(name), wanted)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency that is not installed here
        if name != root:
            found[dist.metadata["Name"]] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is not None and not any(
                _marker_holds(req, extra) for extra in ("", *wanted)
            ):
                continue
            todo.append((req.name, tuple(sorted(req.extras))))
    return found


def _marker_holds(req: Requirement, extra: str) -> bool:
    env: dict[str, Any] = {"extra": extra}
    assert req.marker is not None
    return bool(req.marker.evaluate(env))
