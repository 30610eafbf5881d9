"""The remote tier's S3 transport: AWS or any S3-compatible store through obstore.

``s3://bucket/prefix[?endpoint=URL&region=NAME]``: obstore, the optional extra
``wheelmemo[s3]`` (:data:`wheelmemo._remote.S3_REQUIREMENT`), is imported when the
transport is made: ~20 ms to import and build a client where boto3 takes ~270 ms.
Credentials come from the usual ``AWS_*`` variables or the shared credentials file;
with none, requests are unsigned and nothing is written.

Imported by :func:`wheelmemo._remote.open_transport` only, which owns the protocol, the
errors and the deadline.  No message holds the secret key or the session token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

from ._remote_base import (
    ASKED,
    CHUNK,
    ClientMissing,
    RemoteError,
    RemoteRefused,
    RemoteTimeout,
    Sink,
    _Budget,
    _config_error,
    check_name,
)
from ._urls import scrub, url_secrets

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["S3Transport"]

#: an S3 client is rebuilt with shorter timeouts only when the deadline is nearer than
#: its timeouts by more than this (a client is a new connection pool and costs ~5 ms)
DEADLINE_SLACK = 1.0
#: without a deadline, the time a transfer may take when obstore (< 0.9, Python 3.9)
#: cannot cap each read of it
OLD_OBSTORE_TRANSFER_TIMEOUT = 300.0


class S3Transport(_Budget):
    """An S3 bucket (AWS, MinIO, R2, Ceph...) through obstore, imported here only.

    Endpoint: ``?endpoint=`` in the URL, else ``AWS_ENDPOINT_URL_S3``, else
    ``AWS_ENDPOINT_URL``; a custom endpoint is addressed path-style (MinIO, moto).
    Region: ``?region=``, ``AWS_REGION``, ``AWS_DEFAULT_REGION``, else us-east-1.
    Credentials: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``,
    a static profile of the shared credentials file (``AWS_PROFILE``, default
    ``default``), web identity (``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``) or
    container credentials (``AWS_CONTAINER_CREDENTIALS_*_URI``).  With none, requests are
    unsigned (a public bucket) and nothing is written, even with ``remote-read-only =
    false``: a bucket anyone may write to is one anyone may fill with wrong wheels.
    """

    def __init__(
        self,
        url: str,
        environ: Mapping[str, str],
        *,
        read_only: bool | None,
        connect_timeout: float,
        deadline: float | None,
    ) -> None:
        from urllib.parse import parse_qsl, urlsplit

        if "@" in url:  # where the userinfo ends is a guess (``_urls``): none is taken
            raise _config_error(
                url, "an '@' (S3 credentials come from the AWS_* variables, an endpoint from AWS_ENDPOINT_URL)"
            )
        try:
            parts = urlsplit(url)
        except ValueError:  # brackets: no bucket name holds them
            raise _config_error(url, "no bucket") from None
        if not parts.netloc or ":" in parts.netloc:
            raise _config_error(url, "no bucket")
        query = dict(parse_qsl(parts.query))
        unknown = set(query) - {"endpoint", "region"}
        if unknown:
            raise _config_error(url, f"unknown parameters {', '.join(sorted(unknown))}")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.display = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = max(10.0, 5 * connect_timeout)
        self.deadline = deadline
        endpoint = query.get("endpoint") or environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
        region = query.get("region") or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        config: dict[str, Any] = {"region": region}
        if endpoint:
            config.update(endpoint=endpoint, virtual_hosted_style_request=False)
        signed, credentials = _aws_credentials(environ)
        config.update(credentials if signed else {"skip_signature": True})
        # an endpoint's userinfo too (up to its last '@'), which obstore's messages may show
        self.secrets = url_secrets(
            *(credentials.get(k) for k in ("secret_access_key", "session_token")),
            (endpoint or "").partition("://")[2].rpartition("@")[0],
        )
        self.writable = signed and not read_only
        self.read_only_because = (
            ""
            if self.writable
            else ASKED
            if read_only
            else (
                "no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE; "
                "nothing is written to S3 unsigned, even with remote-read-only = false)"
            )
        )
        self._client_options: dict[str, Any] = {"allow_http": bool(endpoint and endpoint.startswith("http:"))}
        try:
            import obstore  # type: ignore[import-not-found,unused-ignore]
            import obstore.store  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise ClientMissing(
                f"{self.display}: an s3 remote needs the S3 client: pip install 'wheelmemo[s3]'"
            ) from None
        self._obstore: Any = obstore
        self._config = config
        #: one client per kind of request, rebuilt with shorter timeouts near the deadline
        self._stores: dict[bool, tuple[float, Any]] = {}

    def __repr__(self) -> str:
        return f"<S3Transport {self.display}>"

    def _store(self, *, transfer: bool) -> Any:
        """A client whose timeouts fit the time left.

        ``timeout`` in obstore bounds a whole request, body included, so a small request
        gets the read timeout and a transfer only the deadline; obstore >= 0.9 also caps
        each read (``read_timeout``).  Retries (5xx, 429, dropped connections): three,
        0.2 to 1 s apart, like an HTTP PUT's.
        """
        total = self._left(3600.0 if transfer else self.read_timeout)
        cached = self._stores.get(transfer)
        if cached is not None and cached[0] <= total + DEADLINE_SLACK:
            return cached[1]
        from datetime import timedelta

        options = dict(
            self._client_options,
            connect_timeout=timedelta(seconds=min(total, self.connect_timeout)),
            timeout=timedelta(seconds=total),
        )
        if transfer:
            options["read_timeout"] = timedelta(seconds=min(total, self.read_timeout))
        retry = {
            "max_retries": 3,
            "retry_timeout": timedelta(seconds=total),
            "backoff": {"init_backoff": timedelta(seconds=0.2), "max_backoff": timedelta(seconds=1), "base": 2.5},
        }
        make = self._obstore.store.S3Store
        try:
            store = make(
                self.bucket, prefix=self.prefix or None, config=self._config, client_options=options, retry_config=retry
            )
        except Exception as e:  # noqa: BLE001 - obstore's errors have no common base we may import
            if "read_timeout" not in options or "read_timeout" not in str(e):
                raise self._failed("open", "the bucket", e) from None
            del options["read_timeout"]  # obstore < 0.9: a whole transfer's timeout only
            options["timeout"] = retry["retry_timeout"] = timedelta(seconds=min(total, OLD_OBSTORE_TRANSFER_TIMEOUT))
            store = make(
                self.bucket, prefix=self.prefix or None, config=self._config, client_options=options, retry_config=retry
            )
        self._stores[transfer] = (total, store)
        return store

    def _failed(self, method: str, name: str, error: Exception) -> RemoteError:
        """One line from obstore's message (its debug dump, which tells a timeout, is
        not shown)."""
        import re

        text, _, debug = str(error).partition("\nDebug source")
        first = text.strip().split("\n", 1)[0]
        status = re.search(r"status code: (\d{3}[\w ]*)", first)
        # the status, else the cause obstore names last ("error sending request"); never
        # the server's body
        detail = f"HTTP {status.group(1).strip()}" if status else first.rpartition(" - ")[2]
        if "ConnectionRefused" in debug:
            detail += " (connection refused)"
        detail = scrub(detail or type(error).__name__, self.secrets)[:200]
        if "kind: Timeout" in debug or "TimedOut" in debug or "timed out" in first:
            return RemoteTimeout(f"{self.display}: {method} {name}: {detail} (timed out)")
        refused = method == "PUT" and (
            detail.startswith(("HTTP 401", "HTTP 403"))
            or type(error).__name__ in ("PermissionDeniedError", "UnauthenticatedError")
        )
        return (RemoteRefused if refused else RemoteError)(f"{self.display}: {method} {name}: {detail}")

    def _call(self, method: str, name: str, function: Callable[[], Any]) -> Any:
        """``function()``; None when the object is absent, RemoteError for any failure."""
        try:
            return function()
        except FileNotFoundError:  # obstore's NotFoundError
            return None
        except RemoteError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure of the client is the remote's
            if type(e).__name__ == "NotFoundError":
                return None
            raise self._failed(method, name, e) from None

    def _open(self, name: str, *, transfer: bool) -> tuple[Any, int] | None:
        obstore = self._obstore
        key = check_name(name)
        result = self._call("GET", name, lambda: obstore.get(self._store(transfer=transfer), key))
        return None if result is None else (result, int(result.meta["size"]))

    def get(self, name: str, *, limit: int) -> bytes | None:
        opened = self._open(name, transfer=False)
        if opened is None:
            return None
        result, size = opened
        if size > limit:
            raise RemoteError(f"{self.display}: {name} is larger than {limit} bytes")
        data: bytes = self._call("GET", name, lambda: bytes(result.bytes()))
        if data is None or len(data) != size:
            raise RemoteError(f"{self.display}: GET {name}: truncated")
        return data

    def download(self, name: str, out: Sink, *, limit: int) -> bool:
        opened = self._open(name, transfer=True)
        if opened is None:
            return False
        result, size = opened
        if size > limit:
            raise RemoteError(f"{self.display}: {name} is larger than {limit} bytes")
        local: list[OSError] = []

        def stream() -> int:
            total = 0
            for chunk in result.stream(min_chunk_size=CHUNK):
                self._left(0)
                view = memoryview(chunk)
                if total + len(view) > limit:
                    raise RemoteError(f"{self.display}: {name} is larger than {limit} bytes")
                try:
                    out.write(view)
                except OSError as e:  # the local disk's failure, not the remote's
                    local.append(e)
                    return -1
                total += len(view)
            return total

        total = self._call("GET", name, stream)
        if local:
            raise local[0]
        if total != size:
            raise RemoteError(f"{self.display}: GET {name}: truncated")
        return True

    def exists(self, name: str) -> bool:
        obstore = self._obstore
        key = check_name(name)
        return self._call("HEAD", name, lambda: obstore.head(self._store(transfer=False), key)) is not None

    def put(self, name: str, data: bytes | Path) -> None:
        if not self.writable:
            raise RemoteError(f"{self.display}: read-only, {name} not written: {self.read_only_because}")
        obstore = self._obstore
        key = check_name(name)
        if not isinstance(data, bytes) and not os.path.isfile(data):
            raise RemoteError(f"{self.display}: PUT {name}: cannot read {data}")
        if self._call("PUT", name, lambda: obstore.put(self._store(transfer=True), key, data)) is None:
            raise RemoteError(f"{self.display}: PUT {name}: the bucket does not exist")

    def close(self) -> None:
        self._stores.clear()


def _aws_credentials(environ: Mapping[str, str]) -> tuple[bool, dict[str, str]]:
    """Whether ``environ`` names credentials, and the obstore configuration that passes
    them.  Web identity (``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``) and container
    credentials (``AWS_CONTAINER_CREDENTIALS_*_URI``) obstore reads from the process
    environment itself (obstore 0.8 has no option for them)."""
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        found = {"access_key_id": environ["AWS_ACCESS_KEY_ID"], "secret_access_key": environ["AWS_SECRET_ACCESS_KEY"]}
        if environ.get("AWS_SESSION_TOKEN"):
            found["session_token"] = environ["AWS_SESSION_TOKEN"]
        return True, found
    if (environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and environ.get("AWS_ROLE_ARN")) or any(
        environ.get(f"AWS_CONTAINER_CREDENTIALS_{kind}_URI") for kind in ("RELATIVE", "FULL")
    ):
        return True, {}
    found = _profile_credentials(environ)
    return bool(found), found


def _profile_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """The static keys of ``AWS_PROFILE`` in the shared credentials file, as boto3 reads
    them (SSO and assume-role profiles are not followed)."""
    path = environ.get("AWS_SHARED_CREDENTIALS_FILE") or (
        os.path.join(environ["HOME"], ".aws", "credentials") if environ.get("HOME") else ""
    )
    if not path or not os.path.isfile(path):
        return {}
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error, UnicodeDecodeError):
        return {}
    section = environ.get("AWS_PROFILE") or "default"
    if not parser.has_option(section, "aws_access_key_id") or not parser.has_option(section, "aws_secret_access_key"):
        return {}
    found = {
        "access_key_id": parser.get(section, "aws_access_key_id"),
        "secret_access_key": parser.get(section, "aws_secret_access_key"),
    }
    if parser.has_option(section, "aws_session_token"):
        found["session_token"] = parser.get(section, "aws_session_token")
    return found
