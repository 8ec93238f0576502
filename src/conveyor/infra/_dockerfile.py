"""The text files of a build context: Dockerfile, .dockerignore, health check, project config.

The Dockerfile installs conveyor into ``/opt/conveyor`` (a venv made with the base's
``python3``), copies the minimal project to ``/app/project`` owned by a non-root user
(uid 10001; the server writes its prediction log there), and runs ``conveyor serve``. The
base image is the build argument ``BASE_IMAGE`` (default ``python:3.11-slim``, any Debian-
like image with ``python3`` and its ``venv`` module); pip's index, certificate bundle and
timeout are build arguments too (``PIP_INDEX_URL``, ``PIP_CERT``, ``PIP_DEFAULT_TIMEOUT``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from conveyor.infra._requirements import DISTRIBUTION

__all__ = [
    "APP_UID",
    "DEFAULT_BASE",
    "DOCKERIGNORE",
    "HEALTHCHECK_PY",
    "PORT",
    "project_config",
    "render_dockerfile",
]

DEFAULT_BASE = "python:3.11-slim"
PORT = 8080
APP_UID = 10001

#: Files the context never needs to send to the builder.
DOCKERIGNORE = """\
# Written by `conveyor build`: the context holds exactly what the image needs.
**/__pycache__
**/*.pyc
.git
conveyor-build.json
project/.conveyor/*.db-shm
project/.conveyor/*.db-wal
project/.conveyor/tmp
"""

#: The HEALTHCHECK command: slim bases have no curl, so Python asks the readiness route.
HEALTHCHECK_PY = f'''\
"""Exit 0 when the prediction server in this container is ready (HEALTHCHECK)."""

import os
import sys
import urllib.request

url = os.environ.get("CONVEYOR_HEALTH_URL", "http://127.0.0.1:{PORT}/v2/health/ready")
try:
    with urllib.request.urlopen(url, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # any failure means not ready
    print(f"not ready: {{exc}}", file=sys.stderr)
    sys.exit(1)
'''


def project_config(
    project: str,
    *,
    public_keys: Mapping[str, str],
    environment: str | None,
    environment_config: Mapping[str, Any] | None,
) -> str:
    """The image project's ``conveyor.yaml``: embedded stores, plus what the copy keeps.

    Signing keys are kept so ``conveyor models verify`` works in the image; with an
    environment, its rollout settings are kept so ``conveyor serve --env`` can follow it
    once the image is pointed at the shared stores.
    """
    config: dict[str, Any] = {
        "project": {"name": project},
        "store": {
            "metadata_url": "sqlite:///.conveyor/conveyor.db",
            "artifact_url": ".conveyor/artifacts",
        },
    }
    if public_keys:
        config["signing"] = {"public_keys": dict(public_keys)}
    if environment is not None:
        config["environments"] = {environment: dict(environment_config or {})}
    head = (
        "# Written by `conveyor build`: the project inside a serving image. Its store holds\n"
        "# one model version; CONVEYOR_* variables override this file.\n"
    )
    return head + yaml.safe_dump(config, sort_keys=False)


def render_dockerfile(
    *,
    ref: str,
    labels: Mapping[str, str],
    python: str,
    environment: str | None,
) -> str:
    """The Dockerfile serving ``ref`` (``name@version``), with ``labels`` as OCI labels."""
    major_minor = ".".join(python.split(".")[:2])
    label_lines = " \\\n".join(f"      {key}={json.dumps(value)}" for key, value in labels.items())
    command = _exec_form(
        # A container listens on every interface; its network is the boundary.
        ["--model", ref, "--host", "0.0.0.0", "--port", str(PORT), "--insecure"]  # noqa: S104
    )
    follow = (
        [
            f"# To follow environment {environment!r} instead of serving this version, run the",
            "# image with the shared stores (CONVEYOR_METADATA_URL and CONVEYOR_ARTIFACT_URL, or",
            "# CONVEYOR_SERVER_URL and CONVEYOR_TOKEN) and the command",
            f'#   ["--env", {json.dumps(environment)}, "--host", "0.0.0.0", "--insecure"]',
        ]
        if environment is not None
        else []
    )
    check = (
        "import sys; v = sys.version_info[:2]; "
        f"sys.exit(0 if v == ({major_minor.replace('.', ', ')}) else "
        f"f'the model was registered on Python {major_minor}; this base has {{v[0]}}.{{v[1]}}: "
        f"pass --build-arg BASE_IMAGE=python:{major_minor}-slim')"
    )
    lines = [
        f"# Prediction server for {ref}, written by `conveyor build`.",
        f"ARG BASE_IMAGE={DEFAULT_BASE}",
        "FROM ${BASE_IMAGE}",
        "",
        "ARG PIP_INDEX_URL=https://pypi.org/simple",
        "ARG PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
        "ARG PIP_DEFAULT_TIMEOUT=60",
        "",
        "ENV PYTHONDONTWRITEBYTECODE=1 \\",
        "    PYTHONUNBUFFERED=1 \\",
        "    PIP_DISABLE_PIP_VERSION_CHECK=1 \\",
        "    PATH=/opt/conveyor/bin:$PATH",
        "",
        f"RUN groupadd --system --gid {APP_UID} conveyor \\",
        f"    && useradd --system --uid {APP_UID} --gid conveyor --home-dir /app \\",
        "       --no-create-home --shell /usr/sbin/nologin conveyor",
        "",
        "# Third-party packages first, in their own layer: a new conveyor wheel reuses it.",
        "COPY requirements.txt constraints.txt /tmp/conveyor-build/",
        f"RUN python3 -c {json.dumps(check)} \\",
        "    && python3 -m venv /opt/conveyor \\",
        f"    && sed '/^{DISTRIBUTION}/d' /tmp/conveyor-build/requirements.txt \\",
        "       > /tmp/conveyor-build/pinned.txt \\",
        "    && /opt/conveyor/bin/pip install --no-cache-dir \\",
        "       -r /tmp/conveyor-build/pinned.txt -r /tmp/conveyor-build/constraints.txt",
        "COPY wheels/ /tmp/conveyor-build/wheels/",
        "RUN /opt/conveyor/bin/pip install --no-cache-dir \\",
        "       --find-links /tmp/conveyor-build/wheels \\",
        "       -r /tmp/conveyor-build/requirements.txt -c /tmp/conveyor-build/constraints.txt \\",
        "    && rm -rf /tmp/conveyor-build",
        "",
        "# Labels after the install: a rebuild of another version reuses its layer.",
        f"LABEL {label_lines.lstrip()}",
        "",
        "COPY healthcheck.py /opt/conveyor-healthcheck.py",
        f"COPY --chown={APP_UID}:{APP_UID} project/ /app/project/",
        "",
        f"USER {APP_UID}:{APP_UID}",
        "WORKDIR /app/project",
        f"EXPOSE {PORT}",
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\",
        '    CMD ["/opt/conveyor/bin/python", "/opt/conveyor-healthcheck.py"]',
        "",
        "# Every stored file is checked against its hash before the server starts.",
        'ENTRYPOINT ["/opt/conveyor/bin/conveyor", "serve"]',
        *follow,
        f"CMD {command}",
        "",
    ]
    return "\n".join(lines)


def _exec_form(args: Sequence[str]) -> str:
    return json.dumps(list(args))
