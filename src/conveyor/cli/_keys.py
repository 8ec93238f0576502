"""``conveyor keys rotate``: re-wrap every data key under a new master key, audited."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from conveyor.artifacts import MasterKey
from conveyor.cli._output import console, open_workspace, print_json
from conveyor.errors import EncryptionKeyError

app = typer.Typer(help="Manage the master key of encryption at rest.", no_args_is_help=True)

#: Where ``keys rotate`` reads the new key when no ``--new-key-file`` is given.
NEW_KEY_ENV = "CONVEYOR_NEW_MASTER_KEY"


def _new_key(path: Path | None, env: Mapping[str, str]) -> MasterKey:
    if path is not None:
        return MasterKey.from_file(path)
    text = env.get(NEW_KEY_ENV, "").strip()
    if not text:
        raise EncryptionKeyError(
            "No new master key given.",
            hint=f"Pass --new-key-file FILE (hex or base64 of 32 bytes) or set {NEW_KEY_ENV}.",
        )
    return MasterKey.parse(text, source=NEW_KEY_ENV)


@app.command("rotate")
def rotate(
    new_key_file: Annotated[
        Path | None,
        typer.Option(
            "--new-key-file",
            help=f"File holding the new key (default: the {NEW_KEY_ENV} variable).",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Re-wrap every encrypted object's data key under a new master key.

    The current key comes from the configuration (CONVEYOR_MASTER_KEY or
    store.encryption.key_file). Ciphertext is not rewritten; every object is read back
    with the new key. Then configure the new key everywhere and retire the old one.
    Running it again finishes a rotation that stopped half-way.
    """
    with open_workspace() as ws:
        new = _new_key(new_key_file, ws.settings.environ)
        current = ws.artifacts.master_key
        if current is not None and current == new:
            raise EncryptionKeyError(
                f"The new master key is the current one (fingerprint {new.fingerprint}).",
                hint='Generate a new key with: python -c "from conveyor.artifacts import '
                'MasterKey; print(MasterKey.generate().to_text())"',
            )
        result = ws.artifacts.rotate_master_key(new)
        details = {
            "old_fingerprint": result.old_fingerprint,
            "new_fingerprint": result.new_fingerprint,
            "rewrapped": result.rewrapped,
            "reencrypted": result.reencrypted,
            "already_rotated": result.already_rotated,
            "verified": result.verified,
        }
        ws.store.record_event(ws.actor, "keys.rotate", f"artifacts:{ws.artifacts.url}", details)
    if json_out:
        print_json(details)
        return
    console().print(
        f"Rotated {result.rewrapped + result.reencrypted} object(s) from key "
        f"{result.old_fingerprint} to {result.new_fingerprint} ({result.rewrapped} re-wrapped, "
        f"{result.reencrypted} re-encrypted, {result.already_rotated} already rotated); "
        f"{result.verified} verified with the new key.\n"
        f"Now set CONVEYOR_MASTER_KEY (or store.encryption.key_file) to the new key.",
        markup=False,
    )
