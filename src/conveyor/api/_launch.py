"""Running the control plane: what ``conveyor server`` starts.

:func:`serve` opens the project, refuses an exposure the configuration cannot answer for
(a non-loopback host while ``server.allowed_hosts`` names only loopback), logs where it
listens and which stores it serves (credentials redacted), and runs uvicorn until SIGINT
or SIGTERM. One process serves the app built over the workspace :func:`serve` opened; with
``workers > 1`` uvicorn starts worker processes that each call :func:`app_from_environment`,
which opens the project itself (its folder travels in ``CONVEYOR_SERVER_ROOT``).

With ``server.checkpoint_key_file`` set, an :class:`AuditCheckpointer` signs the audit
chain's head every ``server.checkpoint_interval_s`` seconds and once more at shutdown:
in the app's lifespan when one process serves, in the supervising process when workers
do (so there is one writer of checkpoints, not one per worker).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import signal
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from conveyor.api._app import create_app
from conveyor.config import process_env, set_process_env
from conveyor.core import redact
from conveyor.errors import ConfigError, ConveyorError
from conveyor.security import Role, SqlTokenRecords, Tokens
from conveyor.serving._launch import check_port, configure_logging
from conveyor.store import load_audit_private_key
from conveyor.workspace import Workspace

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from conveyor.store import MetadataStore

#: The project folder, handed to worker processes.
ENV_ROOT = "CONVEYOR_SERVER_ROOT"
#: The environment the project is opened with (JSON), when :func:`serve` was given one.
ENV_ENVIRONMENT = "CONVEYOR_SERVER_ENVIRONMENT"
#: ``"0"`` when the supervising process writes the audit checkpoints, not the workers.
ENV_CHECKPOINTS = "CONVEYOR_SERVER_CHECKPOINTS"
#: ``server.allowed_hosts`` when nobody changed it: loopback names only.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_FACTORY = "conveyor.api._launch:app_from_environment"
_log = logging.getLogger("conveyor.api")


class ServerStartError(ConveyorError):
    """The control plane did not start (uvicorn gave up during startup)."""

    code = "server_start_failed"


def serve(
    root: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run the control plane over the project at ``root`` until SIGINT or SIGTERM.

    Requests in flight finish first; then the last audit checkpoint is written (when a
    key is configured) and the workspace is closed. SIGTERM is a normal stop: this
    function returns.

    Args:
        root: A folder inside the project (``conveyor.yaml`` is looked for upwards).
        host: The interface to listen on.
        port: The port.
        workers: Worker processes (each opens the project itself).
        env: Environment for ``CONVEYOR_*`` overrides (default: the process's); worker
            processes open the project with the same one.

    Raises:
        ProjectNotFoundError: ``root`` is not inside a project.
        ConfigError: ``host`` is not loopback while ``server.allowed_hosts`` names only
            loopback, ``workers`` is below 1, or the project is itself remote.
        AuditKeyError: ``server.checkpoint_key_file`` cannot be read as an ed25519 key.
        PortInUseError: ``port`` is taken.
        ServerStartError: uvicorn could not start the server.

    Example:
        >>> serve(".", port=8765)  # doctest: +SKIP
    """
    import uvicorn

    if workers < 1:
        raise ConfigError(
            f"workers must be 1 or more (got {workers}).", hint="Pass --workers 1 or more."
        )
    configure_logging()
    ws = Workspace.open(root, require_project=True, env=env)
    try:
        config = ws.settings.config.server
        check_exposure(host, config.allowed_hosts)
        _check_local(ws)
        key = checkpoint_key(ws)
        check_port(host, port)
        announce(ws, host=host, port=port, workers=workers, checkpoints=key is not None)
        options: dict[str, Any] = {
            "host": host,
            "port": port,
            "log_level": "warning",
            "access_log": False,
            "timeout_graceful_shutdown": 30,
        }
        with sigterm_stops(), _startup_failure(host, port):
            if workers == 1:
                uvicorn.run(server_app(ws, checkpoint_key=key), **options)
                return
            handed = {
                ENV_ROOT: str(ws.root),
                ENV_CHECKPOINTS: "0",
                ENV_ENVIRONMENT: "" if env is None else json.dumps(dict(env)),
            }
            # uvicorn's workers import the app by name: they learn the project this way.
            set_process_env(handed)
            interval = config.checkpoint_interval_s
            with AuditCheckpointer(ws.store, key, interval).running():
                uvicorn.run(_FACTORY, factory=True, workers=workers, **options)
    finally:
        ws.close()


def app_from_environment() -> FastAPI:
    """The uvicorn factory of worker processes: the app over ``CONVEYOR_SERVER_ROOT``.

    The workspace is closed when the app shuts down.

    Raises:
        ConfigError: ``CONVEYOR_SERVER_ROOT`` is not set (start with ``conveyor server``).
    """
    configure_logging()
    variables = process_env()
    root = variables.get(ENV_ROOT, "")
    if not root:
        raise ConfigError(
            f"{ENV_ROOT} is not set: the worker does not know which project to serve.",
            hint="Start the control plane with `conveyor server` in the project's folder.",
        )
    handed = variables.get(ENV_ENVIRONMENT)
    env = json.loads(handed) if handed else None
    ws = Workspace.open(root, require_project=True, env=env)
    try:
        key = checkpoint_key(ws) if variables.get(ENV_CHECKPOINTS, "1") != "0" else None
        return server_app(ws, checkpoint_key=key, close_workspace=True)
    except BaseException:
        ws.close()
        raise


def server_app(
    ws: Workspace,
    *,
    checkpoint_key: Ed25519PrivateKey | None = None,
    close_workspace: bool = False,
) -> FastAPI:
    """:func:`~conveyor.api.create_app` over ``ws``, with the server's lifespan.

    While the app runs, an :class:`AuditCheckpointer` signs the audit head (when
    ``checkpoint_key`` is given); at shutdown it writes a last checkpoint and, with
    ``close_workspace``, the workspace is closed.
    """
    app = create_app(ws)
    inner = app.router.lifespan_context
    interval = ws.settings.config.server.checkpoint_interval_s

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        checkpointer = AuditCheckpointer(ws.store, checkpoint_key, interval)
        try:
            async with inner(application) as state:
                checkpointer.start()
                try:
                    yield state
                finally:
                    await asyncio.to_thread(checkpointer.stop)
        finally:
            if close_workspace:
                ws.close()

    app.router.lifespan_context = lifespan
    return app


class AuditCheckpointer:
    """Signs the audit chain's head every ``interval_s`` seconds, and once when stopped.

    Does nothing without a key. A checkpoint that fails (the database busy or away) is
    logged and tried again at the next tick; the server keeps serving.

    Args:
        store: The metadata store holding the audit trail.
        key: The ed25519 private key to sign with, or ``None`` for no checkpoints.
        interval_s: Seconds between checkpoints.
    """

    def __init__(
        self, store: MetadataStore, key: Ed25519PrivateKey | None, interval_s: float
    ) -> None:
        self.store = store
        self.key = key
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread (no-op without a key)."""
        if self.key is None or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="conveyor-audit-checkpoints", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then write the last checkpoint (no-op when not started)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join()
        self.checkpoint()

    @contextmanager
    def running(self) -> Iterator[AuditCheckpointer]:
        """Start now; stop (with a last checkpoint) when the block ends."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def checkpoint(self, level: int = logging.INFO) -> None:
        """Sign and store the current head now; log, rather than raise, a failure."""
        if self.key is None:
            return
        try:
            made = self.store.checkpoint_audit(self.key)
        except ConveyorError as exc:
            _log.error("Could not write the audit checkpoint: %s", exc)
            return
        _log.log(level, "Audit checkpoint of event #%d signed by key %s.", made.seq, made.key_id)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.checkpoint(logging.DEBUG)  # the periodic ones would fill the log


def checkpoint_key(ws: Workspace) -> Ed25519PrivateKey | None:
    """The key of ``server.checkpoint_key_file`` (relative to the project), or ``None``.

    Raises:
        AuditKeyError: The file cannot be read as an ed25519 private key.
    """
    configured = ws.settings.config.server.checkpoint_key_file
    if configured is None:
        return None
    path = Path(configured).expanduser()
    return load_audit_private_key(path if path.is_absolute() else ws.root / path)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (``localhost``, 127/8, ::1)."""
    name = host.strip().lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, allowed_hosts: tuple[str, ...]) -> None:
    """Refuse a non-loopback ``host`` while ``allowed_hosts`` names only loopback.

    Such a server would be reachable from outside yet answer every request made by the
    name clients reach it with ``400 host not allowed``: configure that name first.

    Raises:
        ConfigError: ``host`` is not loopback and no other name is allowed.
    """
    if is_loopback(host) or set(allowed_hosts) - LOOPBACK_HOSTS:
        return
    raise ConfigError(
        f"Refusing to serve the control plane on host {host!r}: server.allowed_hosts "
        f"names only loopback ({', '.join(allowed_hosts)}), so requests from other "
        "machines would all be refused.",
        hint="Add the name clients reach the server by to `server: {allowed_hosts: [...]}` "
        "in conveyor.yaml (e.g. conveyor.example.com, behind a TLS proxy), or serve on "
        "--host 127.0.0.1.",
        host=host,
    )


def announce(ws: Workspace, *, host: str, port: int, workers: int, checkpoints: bool) -> None:
    """Log where the server listens, what it serves, and how to get a first token."""
    shown = f"[{host}]" if ":" in host else host
    _log.info(
        "conveyor server for project %s on http://%s:%d (%d worker(s)).",
        ws.root,
        shown,
        port,
        workers,
    )
    _log.info(
        "Stores: metadata %s, artifacts %s.",
        redact(ws.settings.metadata_url),
        redact(ws.settings.artifact_url),
    )
    if checkpoints:
        _log.info(
            "Signing an audit checkpoint every %gs and at shutdown.",
            ws.settings.config.server.checkpoint_interval_s,
        )
    if not _has_admin(ws):
        _log.warning(
            "No active token has the admin role: create one with "
            "`conveyor tokens create NAME --role admin` in this project."
        )


def _has_admin(ws: Workspace) -> bool:
    now = datetime.now(UTC)
    listed = Tokens(SqlTokenRecords(ws.store)).list()
    return any(t.role == Role.ADMIN and t.state(now) == "active" for t in listed)


def _check_local(ws: Workspace) -> None:
    if ws.is_remote:
        raise ConfigError(
            "This project's records live on another conveyor server (store.server_url); "
            "`conveyor server` serves a project's own stores.",
            hint="Run `conveyor server` where the metadata database is, or unset "
            "store.server_url / CONVEYOR_SERVER_URL.",
        )


class _Terminated(Exception):
    """SIGTERM arrived: the server stops normally."""


@contextmanager
def sigterm_stops() -> Iterator[None]:
    """Make SIGTERM a normal stop: uvicorn re-raises it after draining, this absorbs it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum: int, frame: Any) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    except _Terminated:
        _log.info("Stopped by SIGTERM.")
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _startup_failure(host: str, port: int) -> Iterator[None]:
    """Turn uvicorn's ``sys.exit(3)`` on a failed startup into a :class:`ServerStartError`."""
    try:
        yield
    except SystemExit as exc:
        if exc.code in (0, None):
            raise
        raise ServerStartError(
            f"The control plane did not start on {host}:{port} (uvicorn exit code {exc.code}).",
            hint="Read the lines logged above; run again with --verbose for details.",
            host=host,
            port=port,
        ) from exc
