"""open_artifact_store: URL forms, configuration errors, and the package's public surface."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import conveyor.artifacts as artifacts
from conveyor.artifacts import MasterKey, open_artifact_store
from conveyor.core import hash_bytes
from conveyor.errors import ConfigError, EncryptionKeyError


def test_public_surface() -> None:
    assert artifacts.__all__ == [
        "ArtifactStore",
        "FieldCipher",
        "GcResult",
        "LINK_MODES",
        "LinkMode",
        "MasterKey",
        "ObjectInfo",
        "hash_file_bounded",
        "open_artifact_store",
        "seal_profile",
        "unseal_profile",
    ]


@pytest.mark.parametrize("form", ["plain", "file"])
def test_local_folder_is_created_for_absolute_paths(tmp_path: Path, form: str) -> None:
    folder = tmp_path / "nested" / "artifacts"
    url = str(folder) if form == "plain" else f"file://{folder}"
    store = open_artifact_store(url)
    info = store.put_bytes(b"x")
    assert (folder / "objects" / info.hash[:2] / info.hash[2:]).read_bytes() == b"x"
    assert store.url == url


def test_relative_path_is_refused() -> None:
    with pytest.raises(ConfigError, match="'relative/artifacts' is not absolute"):
        open_artifact_store("relative/artifacts")


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown protocol 'nosuchfs'"):
        open_artifact_store("nosuchfs://bucket/x")


def test_missing_backend_package_names_the_extra() -> None:
    # "gs" is a protocol fsspec knows but whose package (gcsfs) is not installed here.
    with pytest.raises(ConfigError, match="needs the Python package") as err:
        open_artifact_store("gs://bucket/artifacts")
    assert "install" in (err.value.hint or "")


def test_encrypt_without_a_key_tells_how_to_set_one() -> None:
    with pytest.raises(EncryptionKeyError, match="no master key is configured") as err:
        open_artifact_store("memory://x", encrypt=True)
    assert "CONVEYOR_MASTER_KEY" in (err.value.hint or "")


@pytest.mark.parametrize("encrypt", [False, True], ids=["plain", "encrypted"])
@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=4096))
def test_put_get_round_trip_and_hash_matches_core(data: bytes, encrypt: bool) -> None:
    key = MasterKey(bytes(32)) if encrypt else None
    url = f"memory://prop-{uuid.uuid4().hex}"
    store = open_artifact_store(url, master_key=key, encrypt=encrypt)
    try:
        info = store.put_bytes(data)
        assert info.hash == hash_bytes(data)
        assert (info.size, info.encrypted) == (len(data), encrypt)
        assert store.get_bytes(info.hash) == data
        assert store.put_bytes(data) == info
    finally:
        store.delete(info.hash)
