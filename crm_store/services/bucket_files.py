"""Customers' files in an S3-compatible bucket (the production option; KEFU_ATTACHMENTS_S3_BUCKET),
through boto3, the maintained AWS SDK, which also speaks to MinIO, Ceph, Cloudflare R2 and the
like (KEFU_ATTACHMENTS_S3_ENDPOINT).

Only where the bytes lie changes (crm_store/services/attachments.py says the rest): uploads are
still staged and checked on local disk (Pillow needs a file; KEFU_ATTACHMENTS_DIR/.incoming),
then put under `<prefix><sha[:2]>/<sha>` with a conditional write (`If-None-Match: *`), so of
two identical uploads exactly one writes and only that one may remove the object on rollback.
Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the
environment, a profile, an instance role), never from Kefu's files.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from crm_store.errors import NotFound
from crm_store.services.attachments import FileStore, Staged
from kefu_config.settings import Settings


class BucketFileStore(FileStore):
    def __init__(self, staging_root: Path, bucket: str, *, client: Any, prefix: str = "") -> None:
        super().__init__(staging_root)
        self.bucket = bucket
        self.prefix = prefix
        self._client = client

    def key_for(self, sha256: str) -> str:
        self.path_for(sha256)  # the same check of the name
        return f"{self.prefix}{sha256[:2]}/{sha256}"

    def place(self, staged: Staged) -> bool:
        from botocore.exceptions import ClientError

        with staged.path.open("rb") as body:
            try:
                self._client.put_object(Bucket=self.bucket,
                                        Key=self.key_for(staged.checked.sha256), Body=body,
                                        ContentType=staged.checked.content_type,
                                        IfNoneMatch="*")
            except ClientError as exc:
                if _status(exc) == 412:  # those bytes were there already
                    return False
                raise
        return True

    def read(self, sha256: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=self.key_for(sha256))
        except ClientError as exc:
            if _status(exc) == 404:
                raise NotFound("the file's bytes are missing") from exc
            raise
        return reply["Body"].read()

    def remove(self, sha256: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self.key_for(sha256))


def _status(exc: Exception) -> int | None:
    return getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")


_stores: dict[tuple, FileStore] = {}
_lock = threading.Lock()


def open_file_store(settings: Settings) -> FileStore:
    """The store the settings name: the bucket when KEFU_ATTACHMENTS_S3_BUCKET is set, else
    the directory. One per configuration and process (a boto3 client is thread-safe and
    costs a moment to make)."""
    key = (str(settings.attachments_path), settings.attachments_s3_bucket,
           settings.attachments_s3_endpoint, settings.attachments_s3_prefix)
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = _make(settings)
        return store


def _make(settings: Settings) -> FileStore:
    if not settings.attachments_s3_bucket:
        return FileStore(settings.attachments_path)
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3", endpoint_url=settings.attachments_s3_endpoint or None,
        # botocore's own retries (standard mode: throttling and 5xx, with backoff) and
        # timeouts that keep a slow bucket from holding a customer's turn for long.
        config=Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5,
                      read_timeout=30))
    return BucketFileStore(settings.attachments_path, settings.attachments_s3_bucket,
                           client=client, prefix=settings.attachments_s3_prefix)
