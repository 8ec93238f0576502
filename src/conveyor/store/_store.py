"""The SQL implementation of the metadata store: sessions, audited writes, retries."""

from __future__ import annotations

import contextvars
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine, Select, Text, delete, insert, literal, select, type_coerce
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import IntegrityError as SQLIntegrityError
from sqlalchemy.orm import Session

from conveyor.core import Actor, utcnow
from conveyor.errors import (
    InvalidVersionError,
    StoreBusyError,
    StoreDisconnectedError,
    StoreError,
    StoreFullError,
    StoreReadOnlyError,
)
from conveyor.store._audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditVerification,
    MalformedEvent,
    append_event,
    event_from_raw,
    verify_chain,
)
from conveyor.store._checkpoints import (
    AuditCheckpoint,
    check_checkpoints,
    checkpoint_from_raw,
    sign_checkpoint,
)
from conveyor.store._engine import BEGIN_MODE_OPTION, build_engine, mask_url, normalise_url
from conveyor.store._migrate import lock_writers, upgrade_to_head
from conveyor.store._models import (
    ArtifactRefRow,
    AuditCheckpointRow,
    AuditEventRow,
    RequestKeyRow,
)

T = TypeVar("T")

#: Who signs the ``store.migrate`` event when ``open_store`` is not told otherwise.
SYSTEM_ACTOR = Actor(name="conveyor", kind="service")
_BACKOFF_BASE_S = 0.02
_BACKOFF_CAP_S = 1.0


class _RequestKey:
    """The idempotency key of the request being served, and whether it is written yet."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.recorded = False


_REQUEST_KEY: contextvars.ContextVar[_RequestKey | None] = contextvars.ContextVar(
    "conveyor_request_key", default=None
)


class WriteTx:
    """The handle a :meth:`MetadataStore.write` body works with.

    Attributes:
        session: The ORM session, inside one write transaction holding the writer lock.
        actor: Who makes the change (``Actor.name`` is recorded).
        action: What the change is, e.g. ``"dataset.add"``.
        target: What it applies to; the body may refine it (``"dataset:orders@3"``).
        details: JSON details for the audit event; the body may add to them.
        event: The audit event written, set once the transaction has committed.
        committing: True once the body and the audit event are done and the commit is
            under way (a connection lost then may or may not have committed).
    """

    def __init__(
        self, session: Session, actor: Actor, action: str, target: str, details: dict[str, Any]
    ) -> None:
        self.session = session
        self.actor = actor
        self.action = action
        self.target = target
        self.details = details
        self.event: AuditEvent | None = None
        self.committing = False

    def unreference(self, owners: Iterable[str]) -> None:
        """Drop every artifact reference the ``owners`` hold (their objects become
        collectable by ``conveyor gc`` unless another record references them)."""
        names = list(owners)
        if names:
            self.session.execute(delete(ArtifactRefRow).where(ArtifactRefRow.owner.in_(names)))

    def reference(self, owner: str, hashes: Iterable[str], *, existing_ok: bool = False) -> None:
        """Record that ``owner`` (``"run:ID"``, ``"model:NAME@V"``) points at artifacts.

        ``conveyor gc`` keeps exactly the referenced hashes; recording the references in
        the same transaction as the record that needs them means no gc can run between.

        Args:
            owner: The record that holds the artifacts.
            hashes: Content hashes it points at.
            existing_ok: A reference already recorded is kept (one lookup per hash);
                otherwise a duplicate fails the transaction, which is cheaper for new
                owners with many objects.
        """
        if existing_ok:
            for digest in hashes:
                self.session.merge(ArtifactRefRow(hash=digest, owner=owner))
            return
        rows = [{"hash": digest, "owner": owner} for digest in dict.fromkeys(hashes)]
        if rows:  # one executemany: a dataset of 10,000 objects is one statement
            self.session.execute(insert(ArtifactRefRow), rows)


class MetadataStore:
    """Metadata records in SQLite or PostgreSQL, every change audited in its transaction.

    Thread safety: one store may be shared by threads; each :meth:`read` and :meth:`write`
    uses its own session. Writers are serialised database-wide (SQLite ``BEGIN IMMEDIATE``,
    PostgreSQL advisory lock), so the audit chain never forks.

    Database failures a user can act on are raised as their own errors: a lock held past
    the busy timeout (:class:`~conveyor.errors.StoreBusyError`), a lost connection
    (:class:`~conveyor.errors.StoreDisconnectedError`), a full disk
    (:class:`~conveyor.errors.StoreFullError`) and a read-only database
    (:class:`~conveyor.errors.StoreReadOnlyError`).

    Build one with :func:`open_store`.
    """

    def __init__(self, engine: Engine, *, url: str) -> None:
        self.engine = engine
        self.url = url
        self.dialect: str = engine.dialect.name
        self._writer = engine.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"})

    def __repr__(self) -> str:
        return f"MetadataStore({self.url!r})"

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Dispose of the engine and its pooled connections."""
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Yield a session for reading; it is rolled back and closed on exit.

        Example:
            >>> with store.read() as session:  # doctest: +SKIP
            ...     owners = session.scalars(select(ArtifactRefRow.owner)).all()
        """
        with self._translate_errors(), Session(self.engine) as session:
            yield session

    @contextmanager
    def write(
        self,
        actor: Actor,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
    ) -> Iterator[WriteTx]:
        """Run the body in one write transaction that also appends one audit event.

        On normal exit the audit event (with ``tx.target`` and ``tx.details`` as the body
        left them) is appended and everything commits together. If the body raises,
        everything rolls back, no event is written, and the exception propagates.

        Raises:
            StoreBusyError: SQLite stayed locked by another writer past the busy timeout.
            StoreDisconnectedError: The connection was lost; nothing was committed unless
                the error's ``retryable`` field is false (lost while committing).
            StoreFullError: The disk is full.
            StoreReadOnlyError: The database cannot be written.

        Example:
            >>> with store.write(actor, "dataset.add", "dataset:orders@1") as tx:  # doctest: +SKIP
            ...     tx.reference("dataset:orders@1", [content_hash])
        """
        tx: WriteTx | None = None
        try:
            with Session(self._writer, expire_on_commit=False) as session, session.begin():
                lock_writers(session.connection())
                tx = WriteTx(session, actor, action, target, dict(details or {}))
                request = _REQUEST_KEY.get()
                if request is not None and not request.recorded:
                    # The key commits with the first change it keys, or not at all.
                    session.add(RequestKeyRow(key=request.key, at=utcnow()))
                yield tx
                event = append_event(
                    session,
                    actor=actor.name,
                    action=tx.action,
                    target=tx.target,
                    details=tx.details,
                )
                tx.committing = True
        except DBAPIError as exc:
            translated = self._translate(exc, committing=tx is not None and tx.committing)
            if translated is exc:
                raise
            raise translated from exc
        except OverflowError as exc:
            raise _too_large(exc) from exc
        request = _REQUEST_KEY.get()
        if request is not None:
            request.recorded = True
        tx.event = event

    @contextmanager
    def keyed(self, key: str) -> Iterator[None]:
        """Record ``key`` in the transaction of the first write made inside the block.

        The control plane wraps each request that carries an ``Idempotency-Key`` in this
        block: the key and the change commit together, so :meth:`request_applied` tells a
        retried request (whose answer was lost) from a new one, and the retry is not
        applied twice. A request that writes nothing records no key.

        Example:
            >>> with store.keyed("run-42-batch-7"):  # doctest: +SKIP
            ...     records.log_metrics(actor, run_id, batch)
        """
        token = _REQUEST_KEY.set(_RequestKey(key))
        try:
            yield
        finally:
            _REQUEST_KEY.reset(token)

    def ping(self) -> None:
        """Run ``SELECT 1``: raise the store's error if the database cannot be reached.

        Raises:
            StoreDisconnectedError: The database is unreachable.
        """
        with self.read() as session:
            session.execute(select(literal(1)))

    def request_applied(self, key: str) -> tuple[bool, dict[str, Any] | None]:
        """Whether a request keyed ``key`` has been applied, and its saved answer if any."""
        with self.read() as session:
            row = session.get(RequestKeyRow, key)
            return (False, None) if row is None else (True, row.response)

    def save_response(self, key: str, response: dict[str, Any]) -> None:
        """Keep the answer of the applied request ``key`` for its retries (not audited:
        the change it answers was)."""
        # BEGIN IMMEDIATE on SQLite: a read lock upgraded to a write lock would fail at
        # once (SQLITE_BUSY) while another writer waits, instead of waiting its turn.
        with self._translate_errors(), Session(self._writer) as session, session.begin():
            row = session.get(RequestKeyRow, key)
            if row is not None:
                row.response = response

    def transact(
        self,
        actor: Actor,
        action: str,
        target: str,
        fn: Callable[[WriteTx], T],
        *,
        details: Mapping[str, Any] | None = None,
        retries: int = 5,
    ) -> T:
        """Run ``fn`` inside :meth:`write`, retrying when a unique constraint races.

        Numbers computed as ``max + 1`` inside ``fn`` therefore stay contiguous under
        concurrent writers: a loser of the race rolls back and computes again.

        A connection lost before the commit (a database restart, a dropped network link)
        is retried once on a new connection; ``fn`` must therefore only touch the database
        through ``tx``.

        Returns:
            Whatever ``fn`` returns from the attempt that committed.

        Raises:
            StoreError: still conflicting after ``retries`` retries.
            StoreDisconnectedError: the connection was lost twice, or while committing.
        """
        reconnects = 1
        attempt = 0
        while True:
            try:
                with self.write(actor, action, target, details) as tx:
                    return fn(tx)
            except StoreDisconnectedError as exc:
                if reconnects == 0 or not exc.fields.get("retryable"):
                    raise
                reconnects -= 1
                continue
            except SQLIntegrityError as exc:
                if attempt == retries:
                    raise StoreError(
                        f"{action} on {target!r} still conflicted with concurrent writers "
                        f"after {retries} retries: {exc.orig}",
                        hint="Retry the command; if it keeps failing, check for a "
                        "duplicate name or version.",
                        action=action,
                        target=target,
                    ) from exc
                # Jitter so writers that collided do not collide again in lockstep.
                delay = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**attempt)
                time.sleep(random.uniform(0, delay))  # noqa: S311 - not security relevant
                attempt += 1

    def record_event(
        self,
        actor: Actor,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one audit event that records something that happened, with no other change.

        For events that are not a change to any record (an integrity failure, a webhook
        that could not be delivered, a key rotation): callers outside the records
        packages use this instead of :meth:`write`, which hands out a session.

        Returns:
            The event appended.

        Raises:
            StoreBusyError, StoreDisconnectedError, StoreFullError, StoreReadOnlyError: as
            :meth:`write`.
        """
        with self.write(actor, action, target, details) as tx:
            pass
        assert tx.event is not None  # set by write() once committed
        return tx.event

    def audit_log(
        self,
        *,
        limit: int | None = None,
        action: str | None = None,
        target_prefix: str | None = None,
        by_actor: str | None = None,
        before_seq: int | None = None,
    ) -> list[AuditEvent]:
        """Return audit events, oldest first.

        Args:
            limit: Keep only the newest ``limit`` matching events (still oldest first).
            action: Only events with exactly this action.
            target_prefix: Only events whose target starts with this text.
            by_actor: Only events of this actor (``Actor.name``).
            before_seq: Only events older than this position (to page back in time).
        """
        query = select(AuditEventRow)
        if action is not None:
            query = query.where(AuditEventRow.action == action)
        if target_prefix is not None:
            query = query.where(AuditEventRow.target.startswith(target_prefix, autoescape=True))
        if by_actor is not None:
            query = query.where(AuditEventRow.actor == by_actor)
        if before_seq is not None:
            query = query.where(AuditEventRow.seq < before_seq)
        if limit is not None:
            query = query.order_by(AuditEventRow.seq.desc()).limit(max(limit, 0))
        with self.read() as session:
            events = [AuditEvent.from_row(row) for row in session.scalars(query)]
        return sorted(events, key=lambda event: event.seq)

    def checkpoint_audit(self, private_key: Ed25519PrivateKey) -> AuditCheckpoint:
        """Sign the audit chain's current head and store the signed checkpoint.

        The checkpoint is a row of its own, not an audit event: it vouches for the newest
        event as it is, and writing it does not add a newer one. :meth:`verify_audit` then
        reports the removal of any event up to the checkpoint's ``seq``. Keep a copy outside
        the database too (:func:`~conveyor.store.write_checkpoint_file`), so that deleting
        checkpoint rows along with the events is detected as well.

        Args:
            private_key: The ed25519 key to sign with
                (:func:`~conveyor.store.load_audit_private_key` reads one from a file).

        Returns:
            The checkpoint stored (``seq`` 0 and :data:`GENESIS_HASH` for an empty log).

        Raises:
            StoreBusyError, StoreDisconnectedError, StoreFullError, StoreReadOnlyError: as
            :meth:`write`.

        Example:
            >>> key = load_audit_private_key("audit.key")  # doctest: +SKIP
            >>> store.checkpoint_audit(key).seq  # doctest: +SKIP
            42
        """
        with (
            self._translate_errors(),
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            # Under the writer lock no event is being appended, so this is the head.
            lock_writers(session.connection())
            last = session.execute(
                select(AuditEventRow.seq, AuditEventRow.hash)
                .order_by(AuditEventRow.seq.desc())
                .limit(1)
            ).first()
            seq, digest = (0, GENESIS_HASH) if last is None else (last.seq, last.hash)
            checkpoint = sign_checkpoint(private_key, seq, digest, utcnow())
            session.add(
                AuditCheckpointRow(
                    seq=checkpoint.seq,
                    hash=checkpoint.hash,
                    at=checkpoint.at,
                    key_id=checkpoint.key_id,
                    signature=checkpoint.signature,
                )
            )
        return checkpoint

    def audit_checkpoints(self) -> list[AuditCheckpoint]:
        """Return the stored checkpoints of the audit head, oldest first."""
        with self.read() as session:
            rows = session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.id))
            return [
                AuditCheckpoint(row.seq, row.hash, row.at, row.key_id, row.signature)
                for row in rows
            ]

    def verify_audit(
        self,
        public_keys: Sequence[Ed25519PublicKey] | None = None,
        *,
        anchor: AuditCheckpoint | None = None,
    ) -> AuditVerification:
        """Recompute every audit hash and link, then check the signed checkpoints of the head.

        Columns are read undecoded, so a row whose timestamp or details were replaced by
        something unreadable is reported as that event ("malformed row: ..."). Every
        stored checkpoint (and ``anchor``) must name an existing event with exactly its
        hash; one beyond the chain's end means the newest events were removed ("events
        after #N were removed (checkpoint of ... vouches for #M)").

        Args:
            public_keys: Keys the checkpoints must be signed with (any one of them). None
                checks no signature (only that each checkpoint matches the chain); an empty
                sequence trusts no key, so any checkpoint fails.
            anchor: A checkpoint kept outside the database
                (:func:`~conveyor.store.read_checkpoint_file`); it catches checkpoint rows
                deleted together with the events they vouch for.

        Returns:
            The outcome; ``ok`` is False at the first problem, which ``reason`` names.
        """
        with self.read() as session:
            # Checkpoints before events: one written meanwhile then vouches for an event
            # the event query below still sees, never for one it missed.
            checkpoints = [
                checkpoint_from_raw(tuple(row)) for row in session.execute(_raw_checkpoints_query())
            ]
        wanted = {cp.seq for cp in checkpoints if isinstance(cp, AuditCheckpoint)}
        if anchor is not None:
            wanted.add(anchor.seq)
        hashes: dict[int, str] = {}

        def noting_hashes(
            events: Iterator[AuditEvent | MalformedEvent],
        ) -> Iterator[AuditEvent | MalformedEvent]:
            for event in events:
                if isinstance(event, AuditEvent) and event.seq in wanted:
                    hashes[event.seq] = event.hash
                yield event

        with self.read() as session:
            rows = session.execute(_raw_events_query())
            try:
                chain = verify_chain(noting_hashes(event_from_raw(tuple(row)) for row in rows))
            finally:
                # verification may stop early; a PostgreSQL server-side cursor must be closed
                rows.close()
        return check_checkpoints(chain, checkpoints, hashes, public_keys=public_keys, anchor=anchor)

    def referenced_hashes(self) -> set[str]:
        """Every artifact hash some record points at (what garbage collection must keep)."""
        with self.read() as session:
            return set(session.scalars(select(ArtifactRefRow.hash).distinct()))

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            translated = self._translate(exc, committing=False)
            if translated is exc:
                raise
            raise translated from exc
        except OverflowError as exc:
            raise _too_large(exc) from exc

    def _translate(self, exc: DBAPIError, *, committing: bool) -> Exception:
        """The conveyor error for a database failure a user can act on, else ``exc``."""
        return translate_db_error(exc, self.url, self.dialect, committing=committing)


def _raw_events_query() -> Select[Any]:
    """Every audit event's columns in ``seq`` order, ``at`` and ``details`` undecoded."""
    table = AuditEventRow.__table__
    raw = [type_coerce(table.c[name], Text) for name in ("at", "details")]
    return (
        select(
            table.c.seq,
            raw[0],
            table.c.actor,
            table.c.action,
            table.c.target,
            raw[1],
            table.c.prev_hash,
            table.c.hash,
        )
        .order_by(table.c.seq)
        .execution_options(yield_per=1000)
    )


def _raw_checkpoints_query() -> Select[Any]:
    """Every checkpoint's columns, ``at`` undecoded (a tampered value is reported, not raised)."""
    table = AuditCheckpointRow.__table__
    return select(
        table.c.id,
        table.c.seq,
        table.c.hash,
        type_coerce(table.c.at, Text),
        table.c.key_id,
        table.c.signature,
    ).order_by(table.c.id)


def translate_db_error(exc: DBAPIError, url: str, dialect: str, *, committing: bool) -> Exception:
    """Map a driver error to :class:`StoreBusyError`, :class:`StoreDisconnectedError`,
    :class:`StoreFullError` or :class:`StoreReadOnlyError`; anything else is returned as is.
    """
    message = _first_line(exc.orig).lower()
    where = f"The metadata database {url!r}"
    if dialect == "sqlite" and ("database is locked" in message or "database is busy" in message):
        database = url.removeprefix("sqlite:///")
        return StoreBusyError(
            f"The metadata database {database} stayed locked past the busy timeout.",
            hint="Another conveyor process is writing to it: retry, or raise "
            "busy_timeout_s (store.busy_timeout_s in conveyor.yaml).",
            url=url,
            path=database,
        )
    if "database or disk is full" in message or "no space left" in message:
        return StoreFullError(
            f"{where} cannot be written: the disk is full ({_first_line(exc.orig)}).",
            hint="Free disk space where the database lives (or run `conveyor gc`), then "
            "retry; nothing of the failed command was recorded.",
            url=url,
        )
    if dialect == "sqlite" and "unable to open database file" in message:
        return StoreReadOnlyError(
            f"{where} cannot be opened for writing ({_first_line(exc.orig)}).",
            hint="SQLite needs to write the file and its -wal and -shm companions: check that "
            "the folder exists, is writable by this user and is not on a read-only mount.",
            url=url,
        )
    if "readonly database" in message or "read-only" in message or "read only" in message:
        return StoreReadOnlyError(
            f"{where} is read-only: {_first_line(exc.orig)}.",
            hint="Check the permissions of the database file and its folder (SQLite also "
            "writes -wal and -shm files next to it), or mount the file system read-write.",
            url=url,
        )
    if exc.connection_invalidated or _is_disconnect(message):
        state = (
            "while committing: the change may or may not have been saved"
            if committing
            else "before anything was committed"
        )
        return StoreDisconnectedError(
            f"{where} closed the connection {state} ({_first_line(exc.orig)}).",
            hint="Check that the database server is up and reachable, then retry the "
            "command" + ("; inspect `conveyor audit log` first." if committing else "."),
            url=url,
            retryable=not committing,
        )
    return exc


def _too_large(exc: OverflowError) -> InvalidVersionError:
    # A number reached the database unchecked (e.g. a 20-digit version): say so plainly.
    return InvalidVersionError(
        f"A number is too large for the metadata database ({exc}).",
        hint="Versions and ids are whole numbers up to 9223372036854775807; check the "
        "NAME@VERSION you passed.",
    )


_DISCONNECT_MARKERS = (
    "server closed the connection",
    "terminating connection",
    "connection already closed",
    "connection is closed",
    "consuming input failed",
    "connection refused",
    "could not connect",
    "connection reset",
    "broken pipe",
    "ssl syscall error",
    "the connection is lost",
    "server has gone away",
)


def _is_disconnect(message: str) -> bool:
    return any(marker in message for marker in _DISCONNECT_MARKERS)


def open_store(
    url: str, *, busy_timeout_s: float = 30.0, actor: Actor | None = None
) -> MetadataStore:
    """Open (and create or upgrade, if needed) the metadata store at ``url``.

    Args:
        url: ``sqlite:////abs/path.db`` (the folder is created) or a PostgreSQL URL
            (``postgresql://``, ``postgres://`` and ``postgresql+psycopg://`` all use psycopg 3).
        busy_timeout_s: How long a SQLite writer waits for another one before giving up.
        actor: Who signs the ``store.migrate`` audit event if a migration runs.

    Returns:
        A ready store whose schema is at the newest revision.

    Raises:
        StoreError: the URL is unsupported or malformed, the driver is missing, the
            database is unreachable, or its schema is newer than this conveyor.
        StoreBusyError: SQLite stayed locked past ``busy_timeout_s`` while migrating.

    Example:
        >>> with open_store("sqlite:////tmp/demo/conveyor.db") as store:  # doctest: +SKIP
        ...     print(store.verify_audit().ok)
        True
    """
    parsed = normalise_url(url)
    shown = mask_url(url)
    engine = build_engine(parsed, busy_timeout_s=busy_timeout_s)
    store = MetadataStore(engine, url=shown)
    try:
        with store._translate_errors():
            upgrade_to_head(engine, actor=(actor or SYSTEM_ACTOR).name, shown_url=shown)
    except StoreDisconnectedError as exc:
        engine.dispose()
        cause = exc.__cause__
        detail = _first_line(cause.orig) if isinstance(cause, DBAPIError) else exc.message
        raise StoreError(
            f"Cannot connect to the metadata store {shown!r}: {detail}",
            hint="Check that the database server is running and reachable, and that the "
            "URL's host, port, user, password and database name are right.",
            url=shown,
        ) from exc
    except OperationalError as exc:
        engine.dispose()
        raise StoreError(
            f"Cannot connect to the metadata store {shown!r}: {_first_line(exc.orig)}",
            hint="Check that the database server is running and reachable, and that the "
            "URL's host, port, user, password and database name are right.",
            url=shown,
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    return store


def _first_line(value: object) -> str:
    return str(value).strip().splitlines()[0] if str(value).strip() else type(value).__name__
