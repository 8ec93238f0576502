"""The content-addressed store: one implementation over any fsspec filesystem."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from blake3 import blake3

from conveyor.artifacts._crypto import (
    DEFAULT_CHUNK_SIZE,
    ESCAPE,
    HEADER_SIZE,
    Encryptor,
    decrypt_chunks,
    is_encrypted,
    is_escaped,
    needs_escape,
    parse_header,
    read_exact,
)
from conveyor.artifacts._fields import FieldCipher, load_field_key, rewrap_field_key_file
from conveyor.artifacts._gc import Sweeper
from conveyor.artifacts._hashing import hash_file_bounded
from conveyor.artifacts._keys import MasterKey
from conveyor.artifacts._linking import (
    LinkMode,
    check_link_mode,
    get_into,
    put_copied,
    put_hardlink,
    put_known,
    put_small,
    read_if_small,
    renew_lease,
)
from conveyor.artifacts._listing import StoredEntry, iter_infos, modified_of
from conveyor.artifacts._objects import GcResult, ObjectInfo, check_hash, corrupt, not_found
from conveyor.artifacts._paths import open_no_follow, refuse_links
from conveyor.artifacts._rotate import RotationIO, RotationResult, rotate_objects
from conveyor.artifacts._writers import (
    BufferedPutWriter,
    LocalWriter,
    ObjectWriter,
    StreamingPutWriter,
    sync_filesystem,
    write_local,
)
from conveyor.core import ProgressCallback, hash_bytes, no_progress, utcnow
from conveyor.errors import ArtifactNotFoundError, EncryptionKeyError

#: How a filesystem publishes objects atomically (see ``_writers``).
StorageKind = Literal["local", "memory", "remote"]
_READ_SIZE = 8 * 1024 * 1024
_TMP_DIR = "tmp"


class ArtifactStore:
    """Immutable blobs named by the BLAKE3 hash of their content.

    Objects live at ``<root>/objects/<2 hex>/<62 hex>``, temporary files in ``<root>/tmp``.
    Writes are atomic, every read verifies the hash, the same content is stored once, and
    with a master key objects can be encrypted at rest (hashes are of the plaintext).

    Any number of threads and processes may share a store: writes never expose partial
    objects, two writers of the same content produce the same object, and :meth:`gc`
    may run meanwhile (writers that reuse an object :meth:`protect` it first).

    Build one with :func:`conveyor.artifacts.open_artifact_store`.

    Raises (from every method taking a hash):
        InvalidNameError: the hash is not 64 lowercase hex digits.
    """

    def __init__(
        self,
        fs: Any,
        root: str,
        *,
        url: str,
        kind: StorageKind,
        master_key: MasterKey | None = None,
        encrypt: bool = False,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        if encrypt and master_key is None:
            raise EncryptionKeyError(
                f"Cannot encrypt the artifact store {url}: no master key is configured.",
                hint="Set CONVEYOR_MASTER_KEY (64 hex digits) or turn encryption off.",
                url=url,
            )
        self.url = url
        self._fs = fs
        self._root = root.rstrip("/")
        self._tmp = f"{self._root}/{_TMP_DIR}"
        self._field_key_path = f"{self._root}/keys/fields.key"
        self._kind: StorageKind = kind
        self._key = master_key
        self._encrypt = encrypt
        self._chunk_size = chunk_size
        self._deferred = 0
        # Folders of the store found to be real folders during the current batch.
        self._checked: set[str] | None = None

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r}, encrypt={self._encrypt})"

    @contextlib.contextmanager
    def deferred_sync(self) -> Iterator[None]:
        """Batch many writes: skip the per-object ``fsync`` and flush once at the end.

        Objects still appear atomically (also after ``kill -9``) and are durable against
        power loss once the block exits, so record references only after it. Nested
        blocks flush once, at the outermost exit; object stores are unaffected.

        Inside the block each folder of the store is checked for links once (see
        ``_paths``), not before every object.
        """
        if self._deferred == 0:
            self._checked = set()
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
            if self._deferred == 0:
                self._checked = None
        if self._deferred == 0 and self._kind == "local":
            objects = Path(self._root) / "objects"
            if objects.exists():
                sync_filesystem(objects)

    @property
    def master_key(self) -> MasterKey | None:
        """The key this store decrypts (and, when ``encrypts``, encrypts) with."""
        return self._key

    @property
    def encrypts(self) -> bool:
        """Whether new objects are encrypted at rest."""
        return self._encrypt

    @property
    def links_files(self) -> bool:
        """Whether :meth:`put_file` honours ``link``: a local folder, unencrypted (other
        stores copy whatever is asked; a subclass without a local folder says no)."""
        return getattr(self, "_kind", None) == "local" and not self._encrypt

    # -- writing -------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> ObjectInfo:
        """Store ``data``; an existing object with the same content is reused."""
        digest = hash_bytes(data)
        existing = self._existing(digest)
        return existing if existing is not None else self._write_data(digest, data)

    def _write_data(self, digest: str, data: bytes) -> ObjectInfo:
        if self._kind == "local" and not self._encrypt:
            # In memory already: one create, write and rename, the mtime from fstat.
            final = self._path(digest)
            self._refuse_links(final, digest)
            self._refuse_links(self._tmp, digest)
            parts = (ESCAPE, data) if needs_escape(data) else (data,)
            modified = write_local(final, self._tmp, parts, durable=self._deferred == 0)
            stamp = datetime.fromtimestamp(modified, UTC)
            return ObjectInfo(digest, len(data), stamp, False, "copied")
        writer = self._writer(digest)
        try:
            encryptor = self._encryptor()
            if encryptor is None:
                if needs_escape(data):
                    writer.write(ESCAPE)
                writer.write(data)
            else:
                view = memoryview(data)
                writer.write(encryptor.header)
                for start in range(0, len(view), _READ_SIZE):
                    writer.write(encryptor.update(view[start : start + _READ_SIZE]))
                writer.write(encryptor.finalize())
            writer.commit()
        except BaseException:
            writer.discard()
            raise
        return self._written_info(digest, len(data))

    def put_file(
        self,
        path: str | os.PathLike[str],
        *,
        known_hash: str | None = None,
        progress: ProgressCallback | None = None,
        link: LinkMode = "reflink",
        known_stat: tuple[int, int, int, int] | None = None,
    ) -> ObjectInfo:
        """Store the file at ``path``, streaming it; return the object's info.

        On a local store the file is cloned where the file system can (a copy-on-write
        reflink on Btrfs, XFS and others shares its blocks: nothing is copied) and
        copied by the kernel elsewhere; either way the stored bytes are hashed and must
        match before they are published. ``link`` chooses otherwise (see ``_linking``):
        ``"copy"`` never clones, ``"hardlink"`` makes the object a read-only second name
        of the file where that is safe, else falls back to ``"reflink"``. The info's
        ``stored_by`` says which happened.

        Args:
            path: A local file.
            known_hash: The file's hash if the caller already knows it; when that object
                exists, the file is not read at all.
            progress: Called with ``("put <name>", bytes_done, bytes_total)``.
            link: ``"reflink"`` (default), ``"copy"`` or ``"hardlink"``; only local,
                unencrypted stores link (others copy whatever is asked).
            known_stat: ``(size, mtime_ns, ctime_ns, inode)`` of ``path`` when
                ``known_hash`` was computed. A large file hard-linked while these still
                hold (checked before the link and once it is read-only) is not hashed
                again: the trust the hash cache gives an unchanged file.

        Raises:
            IntegrityError: the file changed while it was stored (or ``known_hash`` is not
                its hash); nothing is published.
            FileNotFoundError: ``path`` does not exist.
            ConfigError: ``link`` is not one of the modes.
        """
        check_link_mode(link)
        source = Path(path)
        report = progress or no_progress
        label = f"put {source.name}"
        existing = None if known_hash is None else self._existing(check_hash(known_hash))
        if existing is not None:
            return existing
        plain_local = self._kind == "local" and not self._encrypt
        if link == "hardlink" and plain_local:
            linked = put_hardlink(self, source, known_hash, known_stat, label=label, report=report)
            if linked is not None:
                return linked
        data = read_if_small(source)
        if data is not None:
            return put_small(self, source, data, known_hash, label=label, report=report)
        total = source.stat().st_size
        reflink = link != "copy"
        if known_hash is None and plain_local:
            return put_copied(
                self, source, label=label, total=total, report=report, reflink=reflink
            )
        digest = known_hash or hash_file_bounded(source)
        existing = None if known_hash is not None else self._existing(digest)
        if existing is not None:
            report(label, total, total)
            return existing
        return put_known(
            self, digest, source, label=label, total=total, report=report, reflink=reflink
        )

    def protect(self, hash: str) -> bool:
        """Renew the lease of an existing object so that a concurrent :meth:`gc` keeps it.

        Call it before recording a reference to an object this process did not write.
        On local disk it sets the modification time to now; object stores cannot touch
        an object, so there it only checks existence (run ``gc`` from one job).

        Returns:
            Whether the object exists; if not, write it again before referencing it.

        Raises:
            IntegrityError: the object's path goes through a symbolic link.
        """
        digest = check_hash(hash)
        return renew_lease(self, digest) if self._kind == "local" else self.exists(digest)

    def _existing(self, digest: str) -> ObjectInfo | None:
        """The protected object's info, or ``None`` when it must be written."""
        if not self.protect(digest):
            return None
        try:
            return self.info(digest)
        except ArtifactNotFoundError:  # a gc moved it aside meanwhile: write it again
            return None

    # -- reading -------------------------------------------------------------------------

    def get_bytes(self, hash: str) -> bytes:
        """Return the content of object ``hash``, verified.

        Raises:
            ArtifactNotFoundError: no such object.
            IntegrityError: the stored object does not match its hash.
            EncryptionKeyError: the object is encrypted and the key is missing or wrong.
        """
        with contextlib.closing(self._verified_chunks(check_hash(hash))) as chunks:
            return b"".join(chunks)

    def verify(self, hash: str) -> None:
        """Read object ``hash`` whole and check its hash, keeping nothing (as :meth:`get_bytes`)."""
        with contextlib.closing(self._verified_chunks(check_hash(hash))) as chunks:
            for _ in chunks:
                pass

    def rotate_master_key(
        self, new_key: MasterKey, *, progress: ProgressCallback | None = None
    ) -> RotationResult:
        """Re-wrap every encrypted object's data key under ``new_key``, verifying each.

        Only the wrapped data keys change (older-format objects are re-encrypted); see
        ``_rotate``. Afterwards this store uses ``new_key``. Running it again completes
        a rotation that stopped half-way.

        Raises:
            EncryptionKeyError: no current key, or an object under a third key.
            IntegrityError: an object is damaged (objects before it are rotated).
        """
        old = self._key
        if old is None:
            raise EncryptionKeyError(
                f"Cannot rotate the master key of {self.url}: no current key is configured.",
                hint="Set CONVEYOR_MASTER_KEY to the current key, then rotate.",
                url=self.url,
            )
        verifier = ArtifactStore(self._fs, self._root, url=self.url, kind=self._kind)
        verifier._key = new_key  # reads only: never encrypts
        io = RotationIO(lambda d: self._open_read(d, self._path(d)), self._writer, verifier.verify)
        objects = [info.hash for info in self.iter_objects() if info.encrypted]
        result = rotate_objects(objects, io, old, new_key, url=self.url, progress=progress)
        rewrap_field_key_file(self._fs, self._field_key_path, old, new_key)
        self._key = new_key
        return result

    def field_cipher(self) -> FieldCipher:
        """The cipher sealing values kept in the metadata database (see ``_fields``); raises
        EncryptionKeyError without a master key or when the field key is under another."""
        if self._kind == "local":
            refuse_links(self._root, self._field_key_path, url=self.url)
        return FieldCipher(load_field_key(self._fs, self._field_key_path, self._key, url=self.url))

    def get_file(
        self,
        hash: str,
        dest: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Write object ``hash`` to ``dest`` atomically, after verifying it.

        The content goes to a temporary file next to ``dest`` that replaces ``dest`` only
        once verified; on any failure ``dest`` is left as it was.

        Raises:
            ArtifactNotFoundError, IntegrityError, EncryptionKeyError: as :meth:`get_bytes`.
        """
        get_into(self, check_hash(hash), Path(dest), progress or no_progress)

    def _verified_chunks(self, digest: str) -> Generator[bytes]:
        """Yield the plaintext of ``digest``; raise IntegrityError after the last chunk if
        the content does not hash to ``digest`` (callers publish nothing before the end)."""
        hasher = blake3()
        with contextlib.closing(self._content_chunks(digest)) as chunks:
            for chunk in chunks:
                hasher.update(chunk)
                yield chunk
        if hasher.hexdigest() != digest:
            raise corrupt(digest, self.url, "its content does not match its hash")

    def _content_chunks(self, digest: str) -> Generator[bytes]:
        path = self._path(digest)
        with self._open_read(digest, path) as handle:
            head = read_exact(handle, HEADER_SIZE)
            if is_encrypted(head):
                header = parse_header(head, digest=digest, url=self.url)
                yield from decrypt_chunks(header, handle, self._key, digest=digest, url=self.url)
                return
            yield head[len(ESCAPE) :] if is_escaped(head) else head
            while chunk := handle.read(_READ_SIZE):
                yield chunk

    def exists(self, hash: str) -> bool:
        """True if object ``hash`` is stored (its content is not verified)."""
        return bool(self._fs.exists(self._path(check_hash(hash))))

    def info(self, hash: str) -> ObjectInfo:
        """Size, modification time and encryption of ``hash`` (ArtifactNotFoundError if absent)."""
        digest = check_hash(hash)
        path = self._path(digest)
        self._refuse_links(path, digest)
        try:
            detail = self._fs.info(path)
            entry = StoredEntry(digest, path, int(detail["size"]), modified_of(detail))
            return entry.to_info(self._head(entry.path, entry.stored_size))
        except FileNotFoundError as exc:
            raise not_found(digest, self.url) from exc

    def iter_objects(self) -> Iterator[ObjectInfo]:
        """Yield every complete object, sorted by hash (temporary files are not listed)."""
        yield from iter_infos(self._fs, f"{self._root}/objects")

    def delete(self, hash: str) -> None:
        """Remove object ``hash``; raise ArtifactNotFoundError if there is none."""
        digest = check_hash(hash)
        path = self._path(digest)
        if not self._fs.exists(path):
            raise not_found(digest, self.url)
        with contextlib.suppress(FileNotFoundError):  # a concurrent delete won the race
            self._fs.rm_file(path)

    def gc(
        self,
        live: set[str] | Callable[[], Iterable[str]],
        *,
        grace: timedelta = timedelta(hours=1),
        dry_run: bool = False,
    ) -> GcResult:
        """Remove objects not in ``live`` last written (or protected) more than ``grace``
        before this call started; stale temporary files older than that go too.

        Safe beside running adds (see :meth:`protect` and ``_gc``). Objects with an
        unknown modification time are kept. On S3, let a bucket lifecycle rule abort
        incomplete multipart uploads: they are invisible here.

        Args:
            live: Referenced hashes, or a function returning them (called at the start
                and again before anything is removed).
            grace: The longest an add may take between storing an object and recording it.
            dry_run: Report what would be removed without removing it.

        Raises:
            InvalidNameError: ``live`` holds something that is not a hash.
        """
        sweeper = Sweeper(
            self._fs,
            objects_root=f"{self._root}/objects",
            tmp_root=self._tmp,
            path_of=self._path,
            atomic_rename=self._kind == "local",
        )
        return sweeper.run(live, cutoff=utcnow() - grace, dry_run=dry_run)

    # -- internals -----------------------------------------------------------------------

    def _path(self, digest: str) -> str:
        return f"{self._root}/objects/{digest[:2]}/{digest[2:]}"

    def _writer(self, digest: str) -> ObjectWriter:
        final = self._path(digest)
        if self._kind == "local":
            self._refuse_links(final, digest)
            self._refuse_links(self._tmp, digest)
            return LocalWriter(Path(final), Path(self._tmp), durable=self._deferred == 0)
        if self._kind == "memory":
            return BufferedPutWriter(self._fs, final, self.url)
        return StreamingPutWriter(self._fs, final, self.url)

    def _encryptor(self) -> Encryptor | None:
        if not self._encrypt or self._key is None:
            return None
        return Encryptor(self._key, self._chunk_size)

    def _written_info(self, digest: str, size: int, stored_by: str = "copied") -> ObjectInfo:
        detail = self._fs.info(self._path(digest))
        return ObjectInfo(digest, size, modified_of(detail), self._encrypt, stored_by)

    def _stored_as_is(self, digest: str, path: str) -> bool:
        """True when the stored bytes are exactly the content (no header, no escape)."""
        try:
            return not needs_escape(self._head(path, int(self._fs.info(path)["size"])))
        except FileNotFoundError as exc:
            raise not_found(digest, self.url) from exc

    def _head(self, path: str, stored_size: int) -> bytes:
        """The first bytes of a stored object, enough to tell whether it is encrypted."""
        if stored_size == 0:  # S3 refuses range reads of empty objects
            return b""
        return bytes(self._fs.cat_file(path, start=0, end=min(HEADER_SIZE, stored_size)))

    def _open_read(self, digest: str, path: str) -> Any:
        try:
            if self._kind != "local":
                return self._fs.open(path, "rb")
            self._refuse_links(path, digest)
            return open_no_follow(path)
        except FileNotFoundError as exc:
            raise not_found(digest, self.url) from exc
        except OSError as exc:  # ELOOP: the object was replaced by a link meanwhile
            why = f"it cannot be opened as a regular file ({exc.strerror})"
            raise corrupt(digest, self.url, why) from exc

    def _refuse_links(self, path: str, digest: str) -> bool:
        """On local disk, refuse a path that goes through a symbolic link (see ``_paths``);
        return whether the path may exist (``False``: a component of it is missing)."""
        if self._kind != "local":
            return True
        return refuse_links(self._root, path, url=self.url, digest=digest, checked=self._checked)
