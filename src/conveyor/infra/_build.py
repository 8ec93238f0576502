"""``conveyor build``: a container build context for a model version's prediction server.

The context is self-contained: ``project/`` is a minimal conveyor project (embedded
SQLite store and artifact folder) holding exactly the version served, copied with its
name, number, content hash, signatures and files (:func:`conveyor.registry.copy_version`),
so ``conveyor serve --model NAME@V`` in the image needs no database outside it and checks
every file against its hash before it starts. Beside it: the Dockerfile, a wheel of the
running conveyor (``wheels/``), ``requirements.txt`` and ``constraints.txt`` (see
:mod:`conveyor.infra._requirements`), ``healthcheck.py``, ``.dockerignore`` and
``conveyor-build.json`` (what was built; it marks the folder as a build context, which a
later build may replace: any other non-empty folder is refused).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.core import isoformat, utcnow
from conveyor.infra._dockerfile import (
    DOCKERIGNORE,
    HEALTHCHECK_PY,
    project_config,
    render_dockerfile,
)
from conveyor.infra._names import image_name
from conveyor.infra._requirements import BuildError, pins_for
from conveyor.infra._wheel import conveyor_wheel
from conveyor.registry import ModelVersion, copy_version, parse_model_ref

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

__all__ = ["MARKER", "BuildContext", "BuildError", "build_context", "build_image", "check_tag"]

#: The file that marks a folder as a build context written by conveyor.
MARKER = "conveyor-build.json"
#: How long an image build may take by default (pip downloads every dependency).
BUILD_TIMEOUT_S = 3600.0

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_PART = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?/)"
_TAG = re.compile(rf"{_DOMAIN}?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?")


@dataclass(frozen=True)
class BuildContext:
    """A written build context.

    Attributes:
        path: The context folder (holds the Dockerfile).
        image: The suggested image reference (``churn:4``; the model name mapped by
            :func:`conveyor.infra.image_name`, tagged with the version number).
        ref: The version served (``churn@4``).
        labels: The OCI labels of the image.
        requirements: The lines of ``requirements.txt``.
        warnings: What the user should know (pins taken from this interpreter...).
        environment: The environment whose deployment was built, if any.
    """

    path: Path
    image: str
    ref: str
    labels: dict[str, str]
    requirements: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    environment: str | None = None
    constraints: tuple[str, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, object]:
        """A JSON-able dict (what ``conveyor build --json`` prints)."""
        return {
            "path": str(self.path),
            "image": self.image,
            "ref": self.ref,
            "labels": dict(self.labels),
            "requirements": list(self.requirements),
            "warnings": list(self.warnings),
            "environment": self.environment,
        }


def check_tag(tag: str) -> str:
    """Return ``tag`` if it is a valid image reference (``registry:5000/team/churn:4``).

    Raises:
        BuildError: it is not (upper case in the repository, a bad character, too long).
    """
    if len(tag) > 255 or not _TAG.fullmatch(tag):
        raise BuildError(
            f"Invalid image tag {tag!r}: expected [REGISTRY/]NAME[:TAG] with a lower-case "
            "name (letters, digits, '.', '_', '-') and a tag of at most 128 characters.",
            hint="For example --image registry.example.com/ml/churn:4.",
            tag=tag,
        )
    return tag


def build_context(
    ws: Workspace, ref: str, output: str | os.PathLike[str], *, env: str | None = None
) -> BuildContext:
    """Write the build context of a prediction server for ``ref`` into ``output``.

    Args:
        ws: The workspace holding the version (a local one, without encryption at rest).
        ref: The version (``churn@4``, ``churn@champion``); with ``env``, the model name
            (a version or alias in it must select the version the environment serves).
        output: The context folder: new, empty, or a context an earlier build wrote.
        env: Build the version ``env``'s deployment serves in full now; the image can
            follow the environment when pointed at shared stores (see the Dockerfile).

    Returns:
        What was written.

    Raises:
        BuildError: ``output`` is a file or a non-empty folder that is not a build
            context, ``env`` has no deployment or splits its traffic, the flavor cannot
            be installed in an image, or the conveyor wheel cannot be made.
        TransferError: the workspace encrypts at rest.
        ModelNotFoundError, ModelVersionNotFoundError, AliasNotFoundError: unknown ref.

    Example:
        >>> ctx = build_context(ws, "churn@champion", "build/churn")  # doctest: +SKIP
        >>> (ctx.path / "Dockerfile").is_file(), ctx.image  # doctest: +SKIP
        (True, 'churn:4')
    """
    target = Path(output).resolve()
    _check_output(target)
    version = _served_version(ws, ref, env)
    pins = pins_for(version)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a context is an ordinary folder
    try:
        labels = _labels(version, env)
        _write_project(ws, version, staging / "project", env)
        conveyor_wheel(staging / "wheels")
        (staging / "requirements.txt").write_text(_listing(pins.requirements), encoding="utf-8")
        (staging / "constraints.txt").write_text(_listing(pins.constraints), encoding="utf-8")
        (staging / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
        (staging / "healthcheck.py").write_text(HEALTHCHECK_PY, encoding="utf-8")
        dockerfile = render_dockerfile(
            ref=version.ref, labels=labels, python=pins.python, environment=env
        )
        (staging / "Dockerfile").write_text(dockerfile, encoding="utf-8")
        context = BuildContext(
            path=target,
            image=f"{image_name(version.name)}:{version.version}",
            ref=version.ref,
            labels=labels,
            requirements=pins.requirements,
            warnings=pins.warnings,
            environment=env,
            constraints=pins.constraints,
        )
        marker = json.dumps(context.to_dict(), indent=2, sort_keys=True) + "\n"
        (staging / MARKER).write_text(marker, encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)  # _check_output allowed it: empty or an earlier context
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return context


def _check_output(target: Path) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise BuildError(
            f"Output {target} is a file, not a folder.",
            hint="Pass -o with a new or empty folder.",
            path=str(target),
        )
    entries = list(target.iterdir())
    if entries and not (target / MARKER).is_file():
        raise BuildError(
            f"Output folder {target} is not empty ({len(entries)} entries) and is not a build "
            "context conveyor wrote: refusing to overwrite it.",
            hint="Pass -o with a new or empty folder.",
            path=str(target),
        )


def _served_version(ws: Workspace, ref: str, env: str | None) -> ModelVersion:
    """The version ``ref`` names, or with ``env`` the one the environment serves now."""
    if env is None:
        return ws.models.get(ref)
    deployment = ws.deployments.current(env)
    if deployment is None:
        raise BuildError(
            f"Environment {env!r} has no deployment: there is no version it serves.",
            hint=f"Deploy one first (`conveyor deploy {ref} --env {env}`), or build a version "
            "without --env.",
            environment=env,
        )
    full = deployment.full
    if full is None:
        live = ", ".join(f"{v.ref} {v.weight:g}%" for v in deployment.live) or "none"
        raise BuildError(
            f"Environment {env!r} splits its traffic ({deployment.state}: {live}), so no one "
            "version serves it.",
            hint="Build one of the versions without --env, or wait for the rollout to finish.",
            environment=env,
        )
    wanted = parse_model_ref(ref)
    served = ws.models.get(f"{full.model}@{full.version}")
    chosen = ws.models.get(ref) if "@" in ref else None
    if wanted.name != full.model or (chosen is not None and chosen.version != full.version):
        raise BuildError(
            f"Environment {env!r} serves {served.ref}, not {ref}.",
            hint=f"Run `conveyor build {full.model} --env {env}`.",
            environment=env,
            model=ref,
        )
    return served


def _labels(version: ModelVersion, env: str | None) -> dict[str, str]:
    decision = version.evaluation.get("decision") or {}
    code = version.lineage.get("code_version") or {}
    labels = {
        "org.opencontainers.image.title": image_name(version.name),
        "org.opencontainers.image.description": f"conveyor prediction server for {version.ref}",
        "org.opencontainers.image.version": str(version.version),
        "org.opencontainers.image.created": isoformat(utcnow()),
        "org.opencontainers.image.revision": str(code.get("commit") or ""),
        "ml.conveyor.model.name": version.name,
        "ml.conveyor.model.version": str(version.version),
        "ml.conveyor.model.content-hash": version.content_hash,
        "ml.conveyor.model.flavor": version.flavor,
        "ml.conveyor.model.gate-decision": str(decision.get("verdict") or "none"),
    }
    if not labels["org.opencontainers.image.revision"]:
        del labels["org.opencontainers.image.revision"]
    if env is not None:
        labels["ml.conveyor.environment"] = env
    return labels


def _write_project(ws: Workspace, version: ModelVersion, folder: Path, env: str | None) -> None:
    """The minimal project: ``conveyor.yaml`` and a store holding just ``version``."""
    from conveyor.workspace import Workspace

    config = ws.settings.config
    folder.mkdir()
    env_config = config.environments.get(env) if env is not None else None
    (folder / "conveyor.yaml").write_text(
        project_config(
            config.project.name,
            public_keys=config.signing.public_keys,
            environment=env,
            environment_config=None if env_config is None else env_config.model_dump(mode="json"),
        ),
        encoding="utf-8",
    )
    # No CONVEYOR_* variable of this process may point the image's project elsewhere.
    with Workspace.open(folder, actor=ws.actor, env={}, search_parents=False) as image_ws:
        copy_version(ws.models, version.ref, image_ws.models)


def _listing(lines: tuple[str, ...]) -> str:
    return "".join(f"{line}\n" for line in lines)


def build_image(
    context: BuildContext,
    tag: str,
    *,
    build_args: Mapping[str, str] | None = None,
    timeout_s: float = BUILD_TIMEOUT_S,
    output: Callable[[str], None] | None = None,
) -> str:
    """Build the image of ``context`` as ``tag`` with docker, or buildah without a docker engine.

    Docker is used when ``docker info`` answers (a running engine); otherwise buildah
    (``buildah bud --format docker --layers``: it keeps the HEALTHCHECK and caches layers
    as docker does). Its options come from the environment as usual
    (``BUILDAH_ISOLATION``, ``CONTAINERS_STORAGE_CONF``...).

    Args:
        context: A context :func:`build_context` wrote.
        tag: The image reference to tag (``registry.example.com/ml/churn:4``).
        build_args: ``--build-arg`` values (``BASE_IMAGE``, ``PIP_INDEX_URL``...).
        timeout_s: The build is stopped (and fails) after this many seconds.
        output: Called with each line the builder prints (default: dropped).

    Returns:
        The built image's id.

    Raises:
        BuildError: invalid tag, neither docker nor buildah works, the build failed or
            timed out (the last lines of its output in the message).
    """
    check_tag(tag)
    tool, command = _builder()
    with tempfile.TemporaryDirectory(prefix="conveyor-build-") as tmp:
        iidfile = Path(tmp) / "iid"
        args = [*command, "--iidfile", str(iidfile), "-t", tag]
        for key, value in sorted((build_args or {}).items()):
            args += ["--build-arg", f"{key}={value}"]
        args += ["-f", str(context.path / "Dockerfile"), str(context.path)]
        tail = _run_streaming(
            args, timeout_s=timeout_s, output=output, tool=tool, context_path=context.path
        )
        if not iidfile.is_file():
            raise BuildError(
                f"{tool} finished but wrote no image id for {tag}: {tail}",
                hint="Run the build by hand in the context folder to see why.",
                tag=tag,
            )
        return iidfile.read_text(encoding="utf-8").strip()


def _builder() -> tuple[str, list[str]]:
    """The build tool to use and its build command."""
    docker = shutil.which("docker")
    if docker is not None:
        try:
            info = subprocess.run([docker, "info"], capture_output=True, timeout=20, check=False)
        except subprocess.TimeoutExpired:
            info = None
        if info is not None and info.returncode == 0:
            return "docker", [docker, "build"]
    buildah = shutil.which("buildah")
    if buildah is not None:
        return "buildah", [buildah, "bud", "--format", "docker", "--layers"]
    raise BuildError(
        "Cannot build the image: "
        + ("docker has no running engine" if docker else "docker is not installed")
        + " and buildah is not installed.",
        hint="Start the docker engine, or install buildah (`apt-get install buildah`), "
        "or build the context yourself with any OCI builder.",
    )


def _run_streaming(
    args: list[str],
    *,
    timeout_s: float,
    output: Callable[[str], None] | None,
    tool: str,
    context_path: Path,
) -> str:
    """Run the builder, passing each output line on; return its last lines.

    Raises:
        BuildError: it failed or ran out of time.
    """
    last: list[str] = []
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    timer = threading.Timer(timeout_s, stop)
    timer.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            text = line.rstrip("\n")
            last = [*last[-19:], text]
            if output is not None:
                output(text)
        code = process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            stop()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    tail = "\n".join(last)
    if timed_out.is_set():
        raise BuildError(
            f"The {tool} build ran over {timeout_s:.0f} s and was stopped. Last output:\n{tail}",
            hint="Raise the timeout, or check the package index is reachable from the build.",
            tool=tool,
        )
    if code != 0:
        raise BuildError(
            f"The {tool} build failed (exit {code}). Last output:\n{tail}",
            hint=f"Fix the cause above; the context stays in {context_path}, to build by "
            f"hand with {tool}.",
            tool=tool,
            exit_code_of_build=code,
        )
    return tail
