"""Secrets never show: every printable character in a password or a token.

A password or token of the remote holds one printable ASCII character (twice) among
letters, raw or percent-encoded in the URL's userinfo, in the query, and in the
``WHEELMEMO_REMOTE_*`` variables.  It goes through a configuration error, a transport
error (a closed port; a server that answers 500 and echoes what it was sent, credentials
included), ``wheelmemo stats`` and ``explain``, with the log at ``debug``: no 4
characters in a row of any secret show in what is printed, nor in the cache.
"""

from __future__ import annotations

import contextlib
import io
import random
import socket
import string
from pathlib import Path
from urllib.parse import quote

import pytest
from servers import RawServer

from wheelmemo._cli import main

from conftest import Hooks

CHARACTERS = [c for c in string.printable if not c.isspace()]
#: letters no message, path or digest of ours holds 4 of in a row (hex is lower case)
LETTERS = "QZXJKV"


def secret(character: str, salt: str) -> str:
    rng = random.Random(f"{salt}-{ord(character)}")
    letters = "".join(rng.choice(LETTERS) for _ in range(12))
    return f"{letters[:4]}{character}{letters[4:8]}{character}{letters[8:]}"


def assert_hidden(text: str, secrets: list[str]) -> None:
    for value in secrets:
        for i in range(len(value) - 3):
            assert value[i : i + 4] not in text, f"{value[i : i + 4]!r} of {value!r} shows in:\n{text}"


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("character", CHARACTERS, ids=[f"0x{ord(c):02x}" for c in CHARACTERS])
def test_no_secret_shows_whatever_it_holds(
    hooks: Hooks,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    character: str,
    closed_port: int,
    failing_server: RawServer,
) -> None:
    password, token, signature = (secret(character, salt) for salt in ("password", "token", "query"))
    encoded = quote(password, safe="")
    hidden = [password, encoded, token, quote(token, safe=""), signature, quote(signature, safe="")]
    refused = f"127.0.0.1:{closed_port}"
    cases = [  # the URL, its variables, what the line names (None: a configuration error)
        (f"http://ci:{password}@{refused}/cache?sig={signature}", {}, f"http://{refused}/cache"),
        (f"http://ci:{encoded}@{refused}/cache?sig={quote(signature, safe='')}", {}, f"http://{refused}/cache"),
        (f"http://{password}@{refused}/cache", {}, f"http://{refused}/cache"),  # a token as the user
        (f"http://ci:{encoded}@[::1]:{closed_port}/cache", {}, f"http://[::1]:{closed_port}/cache"),
        (f"http://ci:{encoded}@127.0.0.1:port{character}/cache", {}, None),  # a port that is no number
        (f"http://ci:{password}@127.0.0.1:port/cache", {}, None),
        (f"ftp://ci:{password}@127.0.0.1/cache", {}, None),  # not a remote
        (f"s3://ci:{password}@bucket/cache", {}, None),
        (failing_server.url() + f"?sig={signature}", {"WHEELMEMO_REMOTE_TOKEN": token}, failing_server.url()),
        (
            failing_server.url(),
            {"WHEELMEMO_REMOTE_USERNAME": "ci", "WHEELMEMO_REMOTE_PASSWORD": password},
            failing_server.url(),
        ),
        (failing_server.url().replace("://", f"://ci:{encoded}@"), {}, failing_server.url()),
        (failing_server.url(), {"WHEELMEMO_REMOTE_HEADERS": f"X-Api-Key: {token}"}, failing_server.url()),
    ]
    monkeypatch.setenv("WHEELMEMO_LOG", "debug")
    for number, (url, environ, named) in enumerate(cases):
        monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(tmp_path / f"cache-{number}"))  # nothing skipped
        for var in (
            "WHEELMEMO_REMOTE_TOKEN",
            "WHEELMEMO_REMOTE_USERNAME",
            "WHEELMEMO_REMOTE_PASSWORD",
            "WHEELMEMO_REMOTE_HEADERS",
        ):
            monkeypatch.delenv(var, raising=False)
        for var, value in {"WHEELMEMO_REMOTE": url, **environ}.items():
            monkeypatch.setenv(var, value)
        ambiguous = "@" in url and any(c in split_userinfo_raw(url) for c in "/?#")
        if named is None or ambiguous:
            with pytest.raises(SystemExit):
                hooks.build_wheel(subdir=str(number))
            err = capsys.readouterr().err
            lines = [line for line in err.splitlines() if line.startswith("wheelmemo: error:")]
            assert len(lines) == 1 and "remote" in lines[0], err
        else:
            hooks.build_wheel(subdir=str(number))
            err = capsys.readouterr().err
            assert f"warning: remote cache {named}: " in err, err
        assert "Traceback" not in err
        assert_hidden(err, hidden)
        for command in (["stats"], ["stats", "--json"], ["list"], ["explain", str(hooks.project)]):
            out, errors = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(errors):
                main(command)
            assert_hidden(out.getvalue() + errors.getvalue() + capsys.readouterr().err, hidden)
    for path in tmp_path.rglob("*"):  # the caches, and what the builds wrote
        if path.is_file() and not path.is_relative_to(hooks.project):
            assert_hidden(path.read_bytes().decode("latin-1"), hidden)


def split_userinfo_raw(url: str) -> str:
    """What precedes the last '@' after the scheme: where a raw '/?#' is ambiguous."""
    return url.partition("://")[2].rpartition("@")[0]


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://u:a@b:c@host:80/p?q=1#f", "http://host:80/p"),
        ("https://u:p@ss:w@rd@[::1]:8443/team/?sig=x", "https://[::1]:8443/team"),
        ("http://u:a/b@host/p", "http://..."),  # a raw '/', '?' or '#' before an '@': nothing shown
        ("http://u:a?b#c@host/p", "http://..."),
        ("http://host/p?sig=a@b", "http://..."),  # an '@' in the query: the same
        ("user:pa://ss@host/x", "..."),  # what precedes '://' is no scheme
        ("user:pass@host/x?y", "host/x"),
        ("file:///shared/a@b/cache?x", "file:///shared/a@b/cache"),  # a path, no userinfo
        ("file://u:p@localhost/x", "file://localhost/x"),
        ("s3://bucket/team?endpoint=http://k:s@minio", "s3://..."),
    ],
)
def test_a_display_holds_nothing_before_the_last_at_nor_a_query(url: str, shown: str) -> None:
    from wheelmemo._urls import display_url

    assert display_url(url) == shown


def test_an_at_after_a_raw_slash_question_mark_or_hash_is_refused_not_guessed() -> None:
    from wheelmemo._urls import split_userinfo

    assert split_userinfo("http://u:p@ss:w@rd@host/p") == ("u:p@ss:w@rd", "http://host/p")
    assert split_userinfo("http://host/p") == (None, "http://host/p")
    for url in ("http://u:12/ab@host/p", "http://u:a?b@host/p", "http://u:a#b@host/p", "http://host/a@b"):
        with pytest.raises(ValueError, match="%2F"):
            split_userinfo(url)
