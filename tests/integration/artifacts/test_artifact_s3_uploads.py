"""On S3, a failed multipart upload is aborted: no object, no pending upload left behind."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from conveyor.artifacts import open_artifact_store
from conveyor.core import hash_bytes
from conveyor.errors import IntegrityError

MIB = 1024 * 1024


def test_failed_multipart_upload_is_aborted(
    s3_bucket: tuple[str, dict[str, object]], tmp_path: Path
) -> None:
    url, options = s3_bucket
    options = {**options, "default_block_size": 5 * MIB}  # force a multipart upload
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(12 * MIB))
    wrong = hash_bytes(b"something else")
    store = open_artifact_store(url, storage_options=options)
    with pytest.raises(IntegrityError, match=f"changed while it was stored .*{wrong}"):
        store.put_file(source, known_hash=wrong)
    assert not store.exists(wrong)
    assert list(store.iter_objects()) == []
    bucket = url.removeprefix("s3://").split("/")[0]
    client = boto3.client(
        "s3",
        endpoint_url=str(options["endpoint_url"]),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    info = store.put_file(source)  # and a good multipart upload completes
    assert store.get_bytes(info.hash) == source.read_bytes()
