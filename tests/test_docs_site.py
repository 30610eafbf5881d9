"""The documentation site in a real browser: every page of the built site opened in headless
Chromium (Debian's, installed like nginx in ``servers.py``), driven through the Chrome
DevTools Protocol over its websocket (``websocket-client``).

For every page: it renders (an ``h1`` in the article), no console error, no uncaught
exception, no resource that failed to load; every internal ``a[href]`` and ``img[src]``
answers 200 from the server, every ``#anchor`` exists on its page, every image decoded.
The home page's screenshot is kept (``site-artifacts/home.png``, or
``$WHEELMEMO_DOCS_ARTIFACTS``) and its path printed.  A copy of the site with a broken
link, a missing image, a missing anchor, a console error and an exception planted must
fail each check: a check that cannot fail proves nothing.

Marked ``docs``: ``nox -s docs`` runs it after ``mkdocs build --strict`` (the site it
built is ``$WHEELMEMO_DOCS_SITE``; without it the test builds one); the ``tests`` and
``fast`` sessions deselect it.  Without MkDocs or websocket-client installed (the
``docs`` extra) it is skipped, with that reason.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

import pytest
from servers import chromium_binary

pytestmark = pytest.mark.docs

ROOT = Path(__file__).resolve().parent.parent
websocket = pytest.importorskip("websocket", reason="needs websocket-client (the docs extra): nox -s docs runs this")

#: what the page tells about itself once loaded
PAGE_FACTS = """JSON.stringify({
  h1: (document.querySelector('article h1') || {}).innerText || '',
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  images: [...document.querySelectorAll('img')].map(i => [i.currentSrc || i.src, i.complete && i.naturalWidth > 0]),
})"""


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the browser closing a connection it no longer needs (BrokenPipeError) is no error of the site


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("WHEELMEMO_DOCS_SITE")
    if given:
        return Path(given)
    pytest.importorskip("mkdocs", reason="needs mkdocs-material (the docs extra): nox -s docs runs this")
    site = tmp_path_factory.mktemp("docs") / "site"
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(site)],
        cwd=ROOT,
        check=True,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
    )
    return site


def serve(directory: Path) -> tuple[str, Server]:
    server = Server(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/", server


class Browser:
    """One headless Chromium and one page in it, spoken to through the DevTools Protocol."""

    def __init__(self, profile: Path) -> None:
        args = [
            chromium_binary(),
            "--headless=new",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
            f"--user-data-dir={profile}",
            "--window-size=1280,900",
            "about:blank",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60  # a generous bound, not a measurement
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Chromium did not start (exit {self.process.poll()})")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as answer:
            (page,) = (t for t in json.load(answer) if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def open(self, url: str) -> tuple[dict[str, Any], list[str]]:
        """Load ``url``; what the page tells about itself, and its errors."""
        self.events = []
        self.call("Page.navigate", url=url)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(json.loads(self.ws.recv()))
        # let the theme's scripts, which run on load, run
        self.call("Runtime.evaluate", expression="new Promise(r => setTimeout(r, 300))", awaitPromise=True)
        facts = self.call("Runtime.evaluate", expression=PAGE_FACTS, returnByValue=True)["result"]["value"]
        return json.loads(facts), errors_of(self.events)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.ws.close()
        self.process.terminate()
        self.process.wait(timeout=60)


def errors_of(events: list[dict[str, Any]]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console." + params["type"] + ": " + " ".join(str(a.get("value")) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}".rstrip())
    return errors


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    found = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield found
    found.close()


def pages_of(site: Path) -> list[str]:
    """Every page of the site, as a path below its root ("", "tutorial/", ...)."""
    pages = [str(p.relative_to(site).parent) for p in site.rglob("index.html") if "assets" not in p.parts]
    return sorted("" if p == "." else f"{p}/" for p in pages)


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def ids_of(url: str) -> set[str]:
    with urllib.request.urlopen(url, timeout=30) as answer:
        html = answer.read().decode("utf-8")
    return set(re.findall(r'\bid="([^"]+)"', html)) | set(re.findall(r'\bname="([^"]+)"', html))


class Links:
    """What the server answers for each internal URL, and the anchors of each page, asked once."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.statuses: dict[str, int] = {}
        self.anchors: dict[str, set[str]] = {}

    def problem(self, url: str, kind: str) -> str | None:
        target, fragment = urldefrag(url)
        shown = url[len(self.base) - 1 :]
        if target not in self.statuses:
            self.statuses[target] = status_of(target)
        if self.statuses[target] != 200:
            return f"{kind} {shown} answers {self.statuses[target]}"
        if fragment:
            if target not in self.anchors:
                self.anchors[target] = ids_of(target)
            if fragment not in self.anchors[target]:
                return f"{kind} {shown}: no such anchor"
        return None


def check_site(site: Path, browser: Browser, pages: list[str], screenshot: Path | None = None) -> list[str]:
    """The problems of ``pages`` of ``site``, one line each (none: the site is sound)."""
    base, server = serve(site)
    links = Links(base)
    problems: list[str] = []
    try:
        for page in pages:
            facts, errors = browser.open(base + page)
            if page == "" and screenshot is not None:
                browser.screenshot(screenshot)
            where = f"/{page}"
            if not facts["h1"].strip():
                problems.append(f"{where}: no h1 in the article: the page did not render")
            problems += [f"{where}: {error}" for error in errors]
            problems += [
                f"{where}: image {src[len(base) - 1 :]} not shown"
                for src, decoded in facts["images"]
                if src.startswith(base) and not decoded
            ]
            targets = [(link, "link") for link in facts["links"]] + [(src, "image") for src, _ in facts["images"]]
            for url, kind in targets:
                # another site is not this test's business (it has no network)
                found = links.problem(url, kind) if url.startswith(base) else None
                if found:
                    problems.append(f"{where}: {found}")
    finally:
        server.shutdown()
        server.server_close()
    return sorted(set(problems))


def test_every_page_renders_without_errors_and_its_links_resolve(
    built_site: Path, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    pages = pages_of(built_site)
    # the nav's pages are all there (a page MkDocs left out would not be checked)
    for page in ("", "tutorial/", "install/", "design/", "reference/settings/", "reference/cli/", "benchmarks/"):
        assert page in pages
    artifacts = Path(os.environ.get("WHEELMEMO_DOCS_ARTIFACTS") or ROOT / "site-artifacts")
    shot = artifacts / "home.png"
    shot.unlink(missing_ok=True)
    assert check_site(built_site, browser, pages, screenshot=shot) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with capsys.disabled():
        print(f"\nthe docs site: {len(pages)} pages checked in Chromium; home page screenshot: {shot}")


def test_a_planted_defect_fails_the_check(built_site: Path, browser: Browser, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(built_site, site)
    page = site / "design" / "index.html"
    html = page.read_text(encoding="utf-8")
    planted = (
        '<p><a href="../no-such-page/">broken</a> <a href="../tutorial/#no-such-anchor">anchor</a>'
        ' <img src="../no-such-plot.png" alt="missing"></p>'
        '<script>console.error("planted console error")</script>'
        '<script>throw new Error("planted exception")</script>'
    )
    page.write_text(html.replace("</article>", planted + "</article>", 1), encoding="utf-8")
    problems = check_site(site, browser, ["design/", "tutorial/"])
    joined = "\n".join(problems)
    assert "/design/: link /no-such-page/ answers 404" in problems
    assert "/design/: link /tutorial/#no-such-anchor: no such anchor" in problems
    assert "/design/: image /no-such-plot.png answers 404" in problems
    assert "/design/: image /no-such-plot.png not shown" in problems
    assert "/design/: console.error: planted console error" in problems
    assert "planted exception" in joined
    assert "Failed to load resource" in joined  # the image's 404, as the console reports it
    assert not [p for p in problems if p.startswith("/tutorial/")]  # the page left alone is sound

    # a page that does not render: its article emptied
    page.write_text(re.sub(r"<article.*</article>", "<article></article>", html, flags=re.DOTALL), encoding="utf-8")
    assert "/design/: no h1 in the article: the page did not render" in check_site(site, browser, ["design/"])
