"""What may be shown of a remote's URL, and the secrets no message may hold.

A remote's URL may hold a user name, a password or a token in its userinfo, and a
signature in its query.  A password may hold any character, ``@`` ``:`` ``/`` ``?`` ``#``
included, raw (base64, cloud keys) or percent-encoded; ``urllib.parse`` ends the
userinfo at a raw ``/``, ``?`` or ``#``, and shows the rest as host, path or fragment.
Here the userinfo is everything up to the LAST ``@``; when a raw ``/``, ``?`` or ``#``
precedes that ``@``, where the userinfo ends is a guess (a password, or an ``@`` in a
path or query?): such a URL is displayed as its scheme alone and refused
(:func:`split_userinfo`) rather than guessed at.

Imported on every hook call with a remote (its name is the display): no import here.
"""

from __future__ import annotations

__all__ = ["display_url", "scheme_of", "scrub", "split_userinfo", "url_secrets"]

#: secrets shorter than this are not scrubbed from a server's text: they would turn every
#: word into stars (none of our own messages holds one, whatever its length)
MIN_SECRET = 4
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
#: where a parser, a server or a log may cut a secret: its pieces between them are secrets too
_CUTS = "/?#@:&=;"


def scheme_of(url: str) -> tuple[str, str]:
    """``url``'s scheme (lower case; "" when it has none that is one) and the rest."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme[:1].isalpha() and set(scheme) <= _SCHEME_CHARS:
        return scheme.lower(), rest
    return "", url


def display_url(url: str) -> str:
    """``url`` without userinfo, query or fragment: all that messages may show of it.

    Not a URL (no scheme): what follows its last ``@``, up to a ``?`` or ``#``.  An
    ``@`` after a raw ``/``, ``?`` or ``#``: the scheme and ``...`` only.
    """
    scheme, rest = scheme_of(url)
    if not (scheme == "file" and rest.startswith("/")):  # file:///a@b/c: a path, no userinfo
        userinfo, _, rest = rest.rpartition("@")
        if any(c in userinfo for c in "/?#"):
            # a password with a raw '/?#', or an '@' in a path or a query: what follows
            # the '@' may be a piece of a password or a query; nothing is shown
            rest = "..."
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    return f"{scheme}://{rest.rstrip('/')}" if scheme else rest


def split_userinfo(url: str) -> tuple[str | None, str]:
    """``url``'s raw userinfo (None without one) and ``url`` without it.

    ValueError when an ``@`` follows a raw ``/``, ``?`` or ``#``: a password that holds
    one, or an ``@`` in the path or query; either way which part is the host is a guess,
    and a wrong one would send a piece of the password to another server.
    """
    scheme, sep, rest = url.partition("://")
    userinfo, at, after = rest.rpartition("@")
    if not at:
        return None, url
    if any(c in userinfo for c in "/?#"):
        raise ValueError(
            "an '@' after a raw '/', '?' or '#' (in a password they are %2F, %3F, %23 "
            "and '@' is %40, or set WHEELMEMO_REMOTE_PASSWORD)"
        )
    return userinfo, f"{scheme}{sep}{after}"


def url_secrets(*values: str | None) -> list[str]:
    """Every form in which ``values`` (a userinfo, a query, a password...) may be shown:
    as given, percent-decoded, and their pieces between the characters at which a
    parser cuts them."""
    from urllib.parse import unquote  # on a failure or an upload only

    found: set[str] = set()
    for value in values:
        if not value:
            continue
        for form in (value, unquote(value), unquote(value.replace("+", " "))):
            found.add(form)
            pieces = [form]
            for cut in _CUTS:
                pieces = [p for piece in pieces for p in piece.split(cut)]
            found.update(pieces)
    return sorted((s for s in found if len(s) >= MIN_SECRET), key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` (from a server or a client library) without the secrets, longest first:
    no message of ours holds one, but a server may echo what it was sent."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_SECRET:
            text = text.replace(secret, "***")
    return text
