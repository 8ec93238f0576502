"""Master-key rotation: re-wrap every object's data key under a new master key.

Format-2 objects get a new header (the data key wrapped by the new master key, and its
fingerprint) in front of their unchanged ciphertext; format-1 objects, whose header is
bound to every chunk, are re-encrypted. Each object is replaced atomically (temporary
file and rename on local disk, one completed PUT on object stores) and then verified by
reading it whole with the new key. Objects already under the new key are skipped, so a
rotation that stopped half-way is finished by running it again with both keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conveyor.artifacts._crypto import (
    HEADER_SIZE,
    Encryptor,
    decrypt_chunks,
    is_encrypted,
    parse_header,
    read_exact,
    rewrap_header,
)
from conveyor.artifacts._keys import MasterKey
from conveyor.artifacts._writers import ObjectWriter
from conveyor.core import ProgressCallback

if TYPE_CHECKING:
    from typing import IO

_READ_SIZE = 8 * 1024 * 1024


@dataclass
class RotationResult:
    """Outcome of :meth:`ArtifactStore.rotate_master_key`.

    Attributes:
        old_fingerprint: Fingerprint of the key objects were wrapped with.
        new_fingerprint: Fingerprint of the key they are wrapped with now.
        rewrapped: Objects whose data key was re-wrapped (ciphertext unchanged).
        reencrypted: Older-format objects that had to be re-encrypted.
        already_rotated: Objects already under the new key (skipped).
        plaintext: Objects stored without encryption (untouched).
        verified: Objects read back whole with the new key after rotation.
        hashes: Hash of every object rotated (re-wrapped or re-encrypted).
    """

    old_fingerprint: str
    new_fingerprint: str
    rewrapped: int = 0
    reencrypted: int = 0
    already_rotated: int = 0
    plaintext: int = 0
    verified: int = 0
    hashes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RotationIO:
    """What rotation needs of a store: open an object, write one, verify one."""

    open_read: Callable[[str], IO[bytes]]
    writer: Callable[[str], ObjectWriter]
    verify: Callable[[str], None]


def rotate_objects(
    digests: list[str],
    io: RotationIO,
    old: MasterKey,
    new: MasterKey,
    *,
    url: str,
    progress: ProgressCallback | None = None,
) -> RotationResult:
    """Rotate every object in ``digests`` from ``old`` to ``new`` (see the module doc)."""
    result = RotationResult(old.fingerprint, new.fingerprint)
    total = len(digests)
    for done, digest in enumerate(digests):
        if progress is not None:
            progress("Rotating keys", done, total)
        with io.open_read(digest) as handle:
            head = read_exact(handle, HEADER_SIZE)
            if not is_encrypted(head):
                result.plaintext += 1
                continue
            header = parse_header(head, digest=digest, url=url)
            if header.fingerprint == new.fingerprint:
                result.already_rotated += 1
                continue
            writer = io.writer(digest)
            try:
                if header.version >= 2:
                    writer.write(rewrap_header(header, old, new, digest=digest, url=url))
                    while chunk := handle.read(_READ_SIZE):
                        writer.write(chunk)
                    result.rewrapped += 1
                else:
                    encryptor = Encryptor(new, header.chunk_size)
                    writer.write(encryptor.header)
                    for plain in decrypt_chunks(header, handle, old, digest=digest, url=url):
                        writer.write(encryptor.update(plain))
                    writer.write(encryptor.finalize())
                    result.reencrypted += 1
                writer.commit()
            except BaseException:
                writer.discard()
                raise
        io.verify(digest)
        result.verified += 1
        result.hashes.append(digest)
    if progress is not None:
        progress("Rotating keys", total, total)
    return result
