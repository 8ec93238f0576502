"""Operating-system failures the CLI reports say what happened, not "unexpected ... report it"."""

from __future__ import annotations

import errno

import pytest

from conveyor.cli._app import _escape, _os_error


@pytest.mark.parametrize(
    ("code", "said", "advice"),
    [
        (errno.ENOSPC, "No space left on the device (/data/x)", "Free disk space"),
        (errno.EROFS, "The file system is read-only (/data/x)", "writable location"),
        (errno.EACCES, "Permission denied (/data/x)", "permissions"),
    ],
)
def test_disk_full_read_only_and_permission_errors_are_explained(
    code: int, said: str, advice: str
) -> None:
    message, hint = _os_error(OSError(code, "strerror", "/data/x"))
    assert said in message
    assert advice in hint
    assert "report it" not in hint


def test_other_os_errors_keep_their_description() -> None:
    message, hint = _os_error(OSError(errno.EIO, "Input/output error", "/dev/sdz"))
    assert "Input/output error" in message
    assert "--verbose" in hint


def test_every_printed_message_is_redacted_and_escaped() -> None:
    shown = _escape("cannot reach postgresql://u:pw-9@db/x [bold]")
    assert "pw-9" not in shown
    assert "postgresql://u:***@db/x" in shown
    assert "\\[bold]" in shown
