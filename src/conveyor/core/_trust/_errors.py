"""The load policy's refusals: one root, one class per failure a caller handles differently."""

from __future__ import annotations

from conveyor.errors import ConveyorError


class LoadPolicyError(ConveyorError):
    """Something read from a file was refused by the load policy; nothing was built."""

    code = "load_policy"


class UntrustedContentError(LoadPolicyError):
    """A file names types or classes outside the exact trusted list.

    Attributes (in ``fields``): ``types``, the refused names, sorted.
    """

    code = "untrusted_content"


class ArchiveLimitError(LoadPolicyError):
    """An archive would inflate past a limit; ``fields`` name the ``limit`` and ``value``."""

    code = "archive_limit"


class UnsafePathError(LoadPolicyError, ValueError):
    """A path read from a file is absolute or leads outside its root."""

    code = "unsafe_path"


class UnreadableArchiveError(LoadPolicyError, ValueError):
    """The bytes are not an archive of the expected kind, or it is damaged."""

    code = "unreadable_archive"
