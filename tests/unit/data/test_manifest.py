"""Manifest encoding: canonical bytes, stable hashes, safe paths."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.core import hash_bytes, hash_json
from conveyor.data import manifest_bytes, manifest_hash
from conveyor.data._manifest import check_relpath, parse_manifest
from conveyor.errors import IntegrityError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def _shuffled(value: object, rng: random.Random) -> object:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=8), st.randoms())
def test_manifest_hash_is_stable_under_dict_ordering(
    manifest: dict[str, object], rng: random.Random
) -> None:
    shuffled = _shuffled(manifest, rng)
    assert isinstance(shuffled, dict)
    assert manifest_bytes(shuffled) == manifest_bytes(manifest)
    assert manifest_hash(shuffled) == manifest_hash(manifest) == hash_json(manifest)


def _manifest(files: dict[str, dict[str, object]]) -> dict[str, object]:
    return {
        "format": 1,
        "name": "orders",
        "version": 1,
        "kind": "folder",
        "files": files,
        "schema": None,
        "profile": None,
        "row_count": None,
        "parent": None,
        "created_at": "2026-01-01T00:00:00.000000Z",
        "created_by": "tester",
        "message": None,
        "source": "/tmp/x",
    }


def test_parse_manifest_accepts_what_manifest_bytes_wrote() -> None:
    manifest = _manifest({"a/b.txt": {"hash": "0" * 64, "size": 3}})
    data = manifest_bytes(manifest)
    assert parse_manifest(data, hash_bytes(data)) == manifest


def test_parse_manifest_rejects_bytes_that_do_not_match_the_hash() -> None:
    data = manifest_bytes(_manifest({}))
    with pytest.raises(IntegrityError, match="has content hash"):
        parse_manifest(data, "1" * 64)


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "a//b", "a/./b", "a\\b", ""])
def test_manifest_with_an_escaping_path_is_refused(path: str) -> None:
    with pytest.raises(IntegrityError, match="Unsafe file path"):
        check_relpath(path)
    data = json.dumps(_manifest({path: {"hash": "0" * 64, "size": 1}})).encode()
    with pytest.raises(IntegrityError, match="Unsafe file path"):
        parse_manifest(data, hash_bytes(data))


def test_manifest_with_a_bad_object_hash_is_refused() -> None:
    data = json.dumps(_manifest({"a": {"hash": "../x", "size": 1}})).encode()
    with pytest.raises(IntegrityError, match="not a valid dataset manifest"):
        parse_manifest(data, hash_bytes(data))
