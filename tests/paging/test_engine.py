"""The fetch engine's speed-ups keep every promise: pages written through undecoded are
still exactly the items, the in-flight window adapts but never passes --workers, the ETag
cache keeps raw bytes off the fetch's path, and the leaner transport keeps the token on
its own origin, bounded and timed out as before."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import oauthdance
from oauthdance.net import transport
from oauthdance.paging.cache import ETagCache
from oauthdance.paging.window import Window
from oauthdance.sandbox import RunningSandbox
from oauthdance.sandbox import server as sandbox_server
from tests.support.hostile_server import TOKEN, Answer, HostileServer, with_token
from tests.support.invoking import run_invoke


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


@pytest.fixture
def hostile_creds(server: HostileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Provider `hostile` (its API under the server's /api) and a stored token for it."""
    return with_token(tmp_path, server, monkeypatch)


@pytest.fixture
def creds(repo_creds: Path) -> Path:
    return repo_creds


def fetch(creds: Path, *args: str) -> Any:
    return run_invoke(
        "data.fetch", "-p", "hostile", "--creds", str(creds), "--path", "/items", *args
    )


def paged(server: HostileServer, bodies: list[bytes]) -> None:
    """`/api/items` answers `bodies[0]` and links to `/api/items-2` for the next, and so on
    (a path each: the server routes by path)."""
    paths = ["/api/items"] + [f"/api/items-{n}" for n in range(2, len(bodies) + 1)]
    for number, (path, body) in enumerate(zip(paths, bodies, strict=True)):
        headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
        if number + 1 < len(paths):
            headers += (("Link", f'<{server.url}{paths[number + 1]}>; rel="next"'),)
        server.answer(path, Answer(200, body, headers))


# -- JSON written through as it came ------------------------------------------------------

ODD_ARRAYS = [
    b'[{"a": 1}, {"a": 2}]',
    b'\n  [ {"b" : "\\u00e9\\n]"} ,\t{"c": [1, [2, []]]} ]  \n',
    b"[]",
    b' [ "]", "[", "\\"]" ] ',
    '[{"name": "caf\u00e9 \U0001f600"}]'.encode(),
    b"[1, 2.5e3, true, null, 18446744073709551615]",
]


def test_pages_written_through_are_exactly_the_items(
    server: HostileServer, hostile_creds: Path, tmp_path: Path
) -> None:
    paged(server, ODD_ARRAYS)
    out = tmp_path / "items.json"
    done = fetch(hostile_creds, "--out", str(out), "--workers", "3")
    assert done.returncode == 0, done.stderr
    expected = [item for body in ODD_ARRAYS for item in json.loads(body)]
    assert json.loads(out.read_bytes()) == expected
    assert f"fetched {len(expected)} items in {len(ODD_ARRAYS)} requests" in done.stderr
    ndjson = tmp_path / "items.ndjson"
    assert fetch(hostile_creds, "--out", str(ndjson)).returncode == 0
    assert [json.loads(line) for line in ndjson.read_text().splitlines()] == expected


@pytest.mark.parametrize(
    "broken",
    [b'[{"a": 1}, {"a": 2}', b'[{"a": 1}] [2]', b"[NaN]", b'[{"a": 1},]', b"<html>[]</html>"],
    ids=["cut-off", "two-values", "nan", "trailing-comma", "html"],
)
def test_a_page_that_is_not_json_stops_and_leaves_valid_json(
    server: HostileServer, hostile_creds: Path, tmp_path: Path, broken: bytes
) -> None:
    paged(server, [b'[{"page": 1}]', broken, b'[{"page": 3}]'])
    out = tmp_path / "items.json"
    done = fetch(hostile_creds, "--out", str(out), "--workers", "1")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "is not JSON" in done.stderr and "saved 1 items" in done.stderr
    assert json.loads(out.read_bytes()) == [{"page": 1}]


def test_a_search_answer_is_decoded_for_its_items(
    server: HostileServer, hostile_creds: Path, tmp_path: Path
) -> None:
    paged(server, [json.dumps({"total_count": 2, "items": [{"n": 1}, {"n": 2}]}).encode()])
    out = tmp_path / "found.json"
    assert fetch(hostile_creds, "--out", str(out)).returncode == 0
    assert json.loads(out.read_bytes()) == [{"n": 1}, {"n": 2}]


# -- the in-flight window ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("latency", "cpu", "size"),
    [
        (0.0003, 0.0006, 1),
        (0.0011, 0.001, 1),
        (0.0025, 0.001, 2),
        (0.020, 0.0006, 8),
        (0.0, 0.001, 1),
        (0.0055, 0.001, 5),
    ],
    ids=["fast-link", "a-page-of-wait", "2.5ms", "20ms", "no-wait", "5ms"],
)
def test_the_window_covers_the_wait_with_our_own_work(
    latency: float, cpu: float, size: int
) -> None:
    """A network `latency` a request and `cpu` a page: with `size` in flight, our work on
    `size` pages covers that much of the latency, and the rest is waited (spread over the
    answers, as they come in a burst after it)."""
    clock = Clock()
    window = Window(8, cpu_clock=clock)
    assert window.size == 1  # one request at first
    for _ in range(40):
        window.waited(max(0.0, latency - window.size * cpu) / window.size)
        clock.now += cpu
        window.delivered()
    assert window.size == size


def test_the_window_reads_a_round_of_answers_and_the_average_cpu() -> None:
    clock = Clock()
    window = Window(100, cpu_clock=clock)
    clock.now = 0.050  # connecting and setting up: not a page's work
    window.waited(0.004)
    window.delivered()
    assert window.size == 1  # one answer is not a round: it may be a hiccup
    for spent in (0.002, 0.0, 0.0, 0.001):  # pages handed on in a burst
        clock.now += spent
        window.delivered()
    window.waited(0.0)
    window.delivered()
    assert window.size == 1 + 3  # waited 2 ms an answer, over 0.6 ms a page (3 ms, 5 pages)
    for _ in range(20):
        window.waited(0.0)
        window.delivered()
    assert window.size == 4  # covered: it stays as wide, and never narrows


@pytest.mark.parametrize("workers", [1, 4])
def test_concurrent_requests_never_pass_workers(
    sandbox: RunningSandbox, creds: Path, tmp_path: Path, monkeypatch, workers: int
) -> None:
    sandbox.model.users["octocat"].repo_count = 3000
    sandbox.model.faults.latency = 0.01
    flying, most, lock = [0], [0], threading.Lock()
    serve = sandbox_server.Handler._api

    def counted(handler: Any, *args: Any) -> None:
        with lock:
            flying[0] += 1
            most[0] = max(most[0], flying[0])
        try:
            serve(handler, *args)
        finally:
            with lock:
                flying[0] -= 1

    monkeypatch.setattr(sandbox_server.Handler, "_api", counted)
    out = tmp_path / "repos.ndjson"
    done = run_invoke(
        "data.fetch", "-p", "sandbox", "--creds", str(creds), "--path", "/user/repos",
        "--workers", str(workers), "--no-cache", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = [json.loads(line)["name"] for line in out.read_text().splitlines()]
    assert names == [f"repo-{n:05d}" for n in range(1, 3001)]  # every page, in order
    assert most[0] <= workers
    if workers > 1:  # 10 ms a page is far more than this process's work on one
        assert most[0] > 1


@pytest.mark.parametrize("workers", [8, 1], ids=["last-page-known", "by-next-links"])
def test_one_at_a_time_the_next_request_leaves_before_the_page_is_handed_on(
    sandbox: RunningSandbox, creds: Path, monkeypatch, workers: int
) -> None:
    monkeypatch.setattr(Window, "delivered", lambda self: None)  # the window stays one
    asked, serve = [], sandbox_server.Handler._api

    def counted(handler: Any, *args: Any) -> None:
        asked.append(handler.path)
        serve(handler, *args)

    monkeypatch.setattr(sandbox_server.Handler, "_api", counted)
    items = oauthdance.fetch(
        "/user/repos", provider="sandbox", creds=creds, cache=False, workers=workers
    )
    names = []
    for index, item in enumerate(items):
        names.append(item["name"])
        page, first_on_page = index // 100 + 1, index % 100 == 0
        if first_on_page and 1 < page < 13:  # page 1 comes alone: it names the last page
            wanted = page + 1  # the caller holds this page: the next one is asked for
            assert eventually(lambda wanted=wanted: len(asked) == wanted)
            time.sleep(0.05)
            assert len(asked) == wanted  # one ahead, no more
    assert names == [f"repo-{n:05d}" for n in range(1, 1235)] and len(asked) == 13


def eventually(condition: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


# -- the ETag cache -----------------------------------------------------------------------


def test_the_cache_keeps_the_raw_page_and_replays_it(creds: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    args = ("data.fetch", "-p", "sandbox", "--creds", str(creds), "--path", "/user/repos")
    assert run_invoke(*args, "--out", str(first)).returncode == 0  # returns once on disk
    entries = list((tmp_path / ".oauthdance-cache").rglob("*.page"))
    assert len(entries) == 13  # 1,234 repositories
    head, _, body = entries[0].read_bytes().partition(b"\n")
    assert json.loads(head)["etag"] and body.startswith(b"[")  # the page as it came
    done = run_invoke(*args, "--out", str(second))
    assert done.returncode == 0 and "13 unchanged (304)" in done.stderr
    assert second.read_bytes() == first.read_bytes()


def test_entries_of_the_first_format_or_damaged_ones_are_fetched_afresh(tmp_path: Path) -> None:
    cache = ETagCache(tmp_path, "sandbox/octocat")
    cache.put("https://api.example/a", '"v1"', b"[1]", {"next": "https://api.example/b"})
    cache.flush()
    entry = cache.get("https://api.example/a")
    assert entry is not None and entry.body == b"[1]" and entry.etag == '"v1"'
    assert entry.links == {"next": "https://api.example/b"}
    path = next(tmp_path.rglob("*.page"))
    path.write_bytes(b"not json\n[1]")
    assert cache.get("https://api.example/a") is None
    (path.parent / (path.stem + ".json")).write_text('{"etag": "x", "body": [1]}')
    path.unlink()
    assert cache.get("https://api.example/a") is None
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"


def test_a_slow_disk_does_not_hold_up_the_fetch(tmp_path: Path, monkeypatch) -> None:
    cache = ETagCache(tmp_path, "sandbox/octocat")
    written = threading.Event()
    write = cache._write

    def slow_write(path: Path, entry: bytes) -> None:
        written.wait(5)
        write(path, entry)

    monkeypatch.setattr(cache, "_write", slow_write)
    cache.put("https://api.example/a", '"v1"', b"[1]", {})  # returns at once
    assert cache.get("https://api.example/a") is None
    written.set()
    cache.flush()
    assert cache.get("https://api.example/a") is not None


# -- the page transport --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "links"),
    [
        ('<https://a.example/x?page=2>; rel="next", <https://a.example/x?page=9>; rel="last"',
         {"next": "https://a.example/x?page=2", "last": "https://a.example/x?page=9"}),
        ('<https://a.example/x?ids=1,2>; rel="next"', {"next": "https://a.example/x?ids=1,2"}),
        ('<https://a.example/b>; rel="prev first"; title="x"',
         {"prev": "https://a.example/b", "first": "https://a.example/b"}),
        ("<https://a.example/n>; REL=Next", {"next": "https://a.example/n"}),
        ('garbage, ;;;, <, rel="next", <>; rel="next"', {}),
        ('<https://a.example/1>; rel="next", <https://a.example/2>; rel="next"',
         {"next": "https://a.example/1"}),
    ],
)  # fmt: skip
def test_link_headers_are_read_as_rfc_8288_writes_them(header: str, links: dict) -> None:
    assert {rel: link["url"] for rel, link in transport.parse_links(header).items()} == links


def test_the_fetch_path_never_imports_requests(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, oauthdance.paging.authenticated, oauthdance.api;"
        " print('requests' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_a_redirect_is_followed_within_the_origin_only(
    server: HostileServer, hostile_creds: Path, tmp_path: Path
) -> None:
    with HostileServer() as elsewhere:
        elsewhere.answer("/api/stolen", Answer.json([{"stolen": True}]))
        moved = (("Location", "/api/moved"),)
        server.answer("/api/items", Answer(301, b"", moved))
        server.answer("/api/moved", Answer.json([{"moved": True}]))
        done = fetch(hostile_creds)
        assert done.returncode == 0 and json.loads(done.stdout) == [{"moved": True}]
        assert server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
        away = (("Location", elsewhere.url + "/api/stolen"),)
        server.answer("/api/items", Answer(307, b"", away))
        done = fetch(hostile_creds)
        assert done.returncode == 1 and "http_307" in done.stderr
        assert elsewhere.requests == []
        server.answer("/api/items", Answer(302, b"", (("Location", "/api/items?again"),)))
        done = fetch(hostile_creds)
        assert done.returncode == 1 and "redirects more than 5 times" in done.stderr


def test_pages_past_the_size_limit_stop_before_they_are_read_whole(
    server: HostileServer, hostile_creds: Path, monkeypatch
) -> None:
    monkeypatch.setattr(transport, "MAX_PAGE_BYTES", 1000)
    server.answer("/api/items", Answer.json([{"pad": "x" * 2000}]))
    done = fetch(hostile_creds)
    assert done.returncode == 1 and "answered with more than 1,000 bytes" in done.stderr
    bomb = gzip.compress(b"[" + b'"x",' * 5000 + b'"x"]')
    assert len(bomb) < 1000
    zipped = (("Content-Type", "application/json"), ("Content-Encoding", "gzip"))
    server.answer("/api/items", Answer(200, bomb, zipped))
    done = fetch(hostile_creds)
    assert done.returncode == 1 and "answered with more than" in done.stderr
    small = gzip.compress(b'[{"zipped": true}]')
    server.answer("/api/items", Answer(200, small, zipped))
    done = fetch(hostile_creds)
    assert done.returncode == 0 and json.loads(done.stdout) == [{"zipped": True}]


def test_a_proxy_from_the_environment_is_used_as_requests_would(
    server: HostileServer, hostile_creds: Path, monkeypatch
) -> None:
    with HostileServer() as proxy:
        proxy.answer("/api/items", Answer.json([{"via": "proxy"}]))
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        done = fetch(hostile_creds)
        assert done.returncode == 0 and json.loads(done.stdout) == [{"via": "proxy"}]
        assert proxy.requests and server.requests == []
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        server.answer("/api/items", Answer.json([{"via": "direct"}]))
        done = fetch(hostile_creds)
        assert done.returncode == 0 and json.loads(done.stdout) == [{"via": "direct"}]


def test_a_sent_request_is_answered_whatever_the_connection_went_through(
    server: HostileServer, instant_retries: None
) -> None:
    """The server closes every connection (and once without a byte, once with a 503):
    each answer still comes, on a fresh connection, and a discarded request's answer is
    never taken for the next one's."""
    pool = transport.PagePool(size=2)
    server.answer("/a", Answer(mode="close"), Answer.json(["a"]))
    server.answer("/b", Answer(503), Answer.json(["b"]))
    server.answer("/c", Answer.json(["c"]))
    assert pool.send(server.url + "/a").answer().json() == ["a"]
    assert pool.send(server.url + "/b").answer().json() == ["b"]
    dropped = pool.send(server.url + "/a")
    dropped.discard()
    assert pool.send(server.url + "/c").answer().json() == ["c"]
    assert server.paths()[:4] == ["/a", "/a", "/b", "/b"]  # each tried again once
    assert eventually(lambda: sorted(server.paths()[4:]) == ["/a", "/c"])  # in either order


def test_an_answer_that_never_comes_costs_one_timeout(server: HostileServer) -> None:
    server.answer("/hang", Answer(mode="hang"))
    pool = transport.PagePool(size=1, timeout=(2.0, 0.5))
    with pytest.raises(oauthdance.base.errors.NetworkError, match=r"could not fetch .*/hang"):
        pool.send(server.url + "/hang").answer()
    assert server.paths() == ["/hang"]  # not asked again: one timeout, not two


def test_a_kept_alive_connection_the_server_closed_is_opened_again() -> None:
    """A server that keeps the connection alive, then drops it while it is idle (as
    servers do after a few seconds): the next request connects again."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        for number in range(2):
            connection, _ = listener.accept()
            accepted.append(number)
            with connection:
                connection.recv(65536)
                body = json.dumps([number]).encode()
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                time.sleep(0.1)  # kept alive a moment, then dropped without a word

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/items"
    pool = transport.PagePool(size=1)
    try:
        assert pool.send(url).answer().json() == [0]
        time.sleep(0.3)
        assert pool.send(url).answer().json() == [1]
        assert accepted == [0, 1]
    finally:
        thread.join(5)
        listener.close()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[SimpleNamespace]:
    """An HTTPS server on 127.0.0.1 that keeps connections alive, each connection's TLS
    handshake on a thread of its own: its `url`, the CA that signed its certificate
    (`bundle`, a file), the peer of each connection it `accepted`, the path of each
    request it `answered`, and hooks to run `before_handshake`."""
    import ssl
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    served = SimpleNamespace(accepted=[], answered=[], before_handshake=[])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            served.accepted.append(str(self.client_address))
            super().setup()

        def do_GET(self) -> None:
            served.answered.append(self.path)
            body = json.dumps([self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def finish_request(self, request: Any, client_address: Any) -> None:
            for hook in served.before_handshake:
                hook()
            try:
                secured = context.wrap_socket(request, server_side=True)
            except OSError:  # a client that does not trust this certificate
                return
            with secured:
                super().finish_request(secured, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    served.url = f"https://127.0.0.1:{server.server_address[1]}"
    served.bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(served.bundle))
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


def test_https_pages_are_verified_and_kept_alive(tls_server: SimpleNamespace, monkeypatch) -> None:
    url = tls_server.url
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_server.bundle))
    pool = transport.PagePool(size=2)
    assert pool.send(url + "/a?page=1").answer().json() == ["/a?page=1"]
    assert pool.send(url + "/a?page=2").answer().json() == ["/a?page=2"]
    assert len(tls_server.accepted) == 1  # one TLS handshake, kept alive
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    untrusting = transport.PagePool(size=1, retries=0)  # certifi's CAs: not this one
    with pytest.raises(oauthdance.base.errors.NetworkError, match="could not fetch https://127"):
        untrusting.send(url + "/secret").answer()
    assert tls_server.answered == ["/a?page=1", "/a?page=2"]  # nothing to an unverified peer


def test_new_connections_shake_hands_at_once(tls_server: SimpleNamespace, monkeypatch) -> None:
    """Three requests sent on three new connections: their handshakes are under way
    together (the server finishes none before all three have begun), as they were when
    each worker had a thread of its own."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_server.bundle))
    tls_server.before_handshake.append(threading.Barrier(3, timeout=5).wait)
    pool = transport.PagePool(size=3, retries=0)
    sent = [pool.send(f"{tls_server.url}/p?page={n}") for n in range(3)]
    assert [pending.answer().json() for pending in sent] == [[f"/p?page={n}"] for n in range(3)]
    assert len(tls_server.accepted) == 3


def test_the_python_iterator_yields_before_the_last_page_arrives(
    sandbox: RunningSandbox, creds: Path
) -> None:
    sandbox.model.users["octocat"].repo_count = 1000
    items = oauthdance.fetch("/user/repos", provider="sandbox", creds=creds, workers=2)
    first = next(items)
    sandbox.model.faults.latency = 0.5  # pages still to come are slow; the first is here
    started = time.monotonic()
    assert first["name"] == "repo-00001"
    items.close()  # the caller stops early: no waiting for the rest
    assert time.monotonic() - started < 5


def test_a_link_that_is_not_a_url_ends_the_fetch_clearly(
    server: HostileServer, hostile_creds: Path
) -> None:
    for link in ('<http://[::1>; rel="next"', '<ftp://127.0.0.1/x>; rel="next"'):
        headers = (("Content-Type", "application/json"), ("Link", link))
        server.answer("/api/items", Answer(200, b"[1]", headers))
        done = fetch(hostile_creds)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert "refusing to fetch" in done.stderr and "saved 1 items" in done.stderr
