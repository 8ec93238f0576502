"""Test support for real image builds: buildah on a local Debian base, no registry needed.

No container registry is reachable here, so the base image is made locally: a minimal
Debian bookworm root file system from ``debootstrap`` (with the system ``python3``, its
``venv`` module and CA certificates) imported into buildah. The host's CA bundle replaces
the base's, so pip inside the build trusts what the host trusts. The base is cached in
buildah's own storage under ``~/.cache/conveyor-tests/buildah-<driver>`` (overlay where the
machine mounts one, else vfs; override the folder with ``CONVEYOR_TEST_CACHE``), tagged
with a hash of the debootstrap command and the CA bundle, and built under a file lock so
that two pytest workers never build it twice.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = "python3,python3-venv,ca-certificates"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
TOOLS = ("buildah", "debootstrap")


def cache_dir() -> Path:
    """Where the base image and buildah's storage are kept between runs."""
    default = Path.home() / ".cache" / "conveyor-tests"
    return Path(os.environ.get("CONVEYOR_TEST_CACHE", str(default)))


def require_tools() -> None:
    """Fail (not skip) with what to install when buildah or debootstrap is missing."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not installed: this test builds a real image. Install with "
            "`apt-get install buildah debootstrap` (see the Makefile's target).",
            pytrace=False,
        )


@functools.cache
def storage_driver() -> str:
    """``overlay`` when this machine can mount one (a layer commit then copies only what
    changed), else ``vfs`` (full copies: it works everywhere, several times slower)."""
    with tempfile.TemporaryDirectory() as tmp:
        parts = [Path(tmp) / name for name in ("lower", "upper", "work", "merged")]
        for part in parts:
            part.mkdir()
        lower, upper, work, merged = parts
        options = f"lowerdir={lower},upperdir={upper},workdir={work}"
        mounted = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", options, str(merged)],
            capture_output=True,
            check=False,
        )
        if mounted.returncode != 0:
            return "vfs"
        subprocess.run(["umount", str(merged)], capture_output=True, check=False)
    return "overlay"


def buildah_env() -> dict[str, str]:
    """The process environment with buildah pointed at the cached storage and chroot
    isolation (no daemon, no user namespaces needed as root)."""
    driver = storage_driver()
    root = cache_dir() / f"buildah-{driver}"
    conf = root / "storage.conf"
    if not conf.is_file():
        root.mkdir(parents=True, exist_ok=True)
        conf.write_text(
            "[storage]\n"
            f'driver = "{driver}"\n'
            f'graphroot = "{root / "storage"}"\n'
            f'runroot = "{root / "run"}"\n'
        )
    env = dict(os.environ)
    env["CONTAINERS_STORAGE_CONF"] = str(conf)
    env["BUILDAH_ISOLATION"] = "chroot"
    return env


def buildah(*args: str, timeout: float = 600, check: bool = True) -> str:
    """Run ``buildah ARGS`` on the cached storage; return its standard output."""
    done = subprocess.run(
        ["buildah", *args],
        env=buildah_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"buildah {' '.join(args)} failed: {done.stderr[-3000:]}")
    return done.stdout


def _debootstrap_command(rootfs: Path) -> list[str]:
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={PACKAGES}",
        SUITE,
        str(rootfs),
        MIRROR,
    ]


def base_tag() -> str:
    """The tag of the base image: a hash of how it is made (command and CA bundle)."""
    recipe = json.dumps(_debootstrap_command(Path("ROOTFS")))
    digest = hashlib.sha256(recipe.encode() + HOST_CA.read_bytes()).hexdigest()[:12]
    return f"localhost/conveyor-test-base:{digest}"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def base_image() -> str:
    """The local Debian base image (built once, then reused); return its tag."""
    require_tools()
    tag = base_tag()
    with _locked(cache_dir() / "base.lock"):
        if buildah("images", "--quiet", tag, check=False).strip():
            return tag
        work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=cache_dir()))
        try:
            rootfs = work / "rootfs"
            done = subprocess.run(
                _debootstrap_command(rootfs),
                capture_output=True,
                text=True,
                timeout=1200,
                check=False,
            )
            if done.returncode != 0:
                raise AssertionError(f"debootstrap failed: {done.stdout[-2000:]}{done.stderr}")
            # pip in the build must trust what this machine trusts (a proxy's CA, say).
            shutil.copyfile(HOST_CA, rootfs / "etc/ssl/certs/ca-certificates.crt")
            container = buildah("from", "scratch").strip()
            try:
                buildah("copy", container, f"{rootfs}/", "/", timeout=1200)
                buildah("config", "--env", "LANG=C.UTF-8", container)
                buildah("commit", "--quiet", container, tag, timeout=1200)
            finally:
                buildah("rm", container, check=False)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return tag


def pip_build_args() -> dict[str, str]:
    """Build arguments that give pip in the image this machine's index settings."""
    args = {
        "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",  # the host's bundle, in the base
        "PIP_DEFAULT_TIMEOUT": os.environ.get("PIP_DEFAULT_TIMEOUT", "180"),
    }
    index = subprocess.run(
        ["pip", "config", "get", "global.index-url"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if index.startswith(("http://", "https://")):  # a file:// index is not in the image
        args["PIP_INDEX_URL"] = index
    return args


def image_config(image: str) -> dict[str, Any]:
    """The Docker config of ``image`` (entry point, command, labels, user, health check)."""
    data = json.loads(buildah("inspect", "--type", "image", image))
    return dict(data["Docker"]["config"])


@dataclass
class Running:
    """A command running in a container: the container's name, its process and its log."""

    container: str
    process: subprocess.Popen[str]
    log: IO[str]

    def output(self) -> str:
        """What the container printed so far."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


@contextmanager
def running_container(image: str, command: list[str]) -> Iterator[Running]:
    """Run ``command`` in a container of ``image`` until the block ends; the container is
    removed afterwards. Chroot isolation shares the host's network, so a server in it
    listening on 127.0.0.1 is reachable from the test."""
    container = buildah("from", "--quiet", image).strip()
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            ["buildah", "run", container, "--", *command],
            env=buildah_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            yield Running(container, process, log)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(30)
            buildah("rm", container, check=False)
