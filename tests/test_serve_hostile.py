"""The studio under hostile requests: every refusal is a 4xx JSON error and the server keeps serving; plus the
Host-header allowlist (DNS rebinding), symlinks out of the runs folder and the slow-header deadline."""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image

from studio_fixtures import make_runs

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
from fastapi.testclient import TestClient  # noqa: E402

from spritegan.serve.app import create_app  # noqa: E402
from spritegan.serve.guard import HostAllowlist, host_name, studio_server  # noqa: E402
from spritegan.serve.studio import Limits  # noqa: E402

LIMITS = Limits(max_count=64, max_scale=8, max_frames=16, max_output_pixels=200_000, max_body_bytes=4096)
GOOD = {"model": "plain", "seeds": [1]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return make_runs(tmp_path_factory.mktemp("hostile"))


def _studio(runs: Path, limits: Limits = LIMITS, host: str = "127.0.0.1:8000", app=None) -> TestClient:
    """A test client for the studio over `runs`, sending Host `host`; a server error shows as a 500 answer."""
    app = app or create_app(runs, limits)
    return TestClient(app, base_url=f"http://{host}", raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(runs: Path) -> TestClient:
    return _studio(runs)


def _refused(r, status: int | None = None) -> str:
    """Assert a 4xx (or exactly `status`) with a one-line JSON detail; return the detail."""
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    if status is not None:
        assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("application/json")
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail
    return detail


def _still_serving(client: TestClient) -> None:
    r = client.post("/api/generate", json=GOOD)
    assert r.status_code == 200 and r.content[:4] == b"\x89PNG"


def _gen(**fields) -> str:
    """A raw /api/generate body for one plain sprite with `fields` changed (json.dumps keeps huge ints)."""
    return json.dumps({"model": "plain", "seeds": [1], **fields})


def _cond(**fields) -> str:
    return json.dumps({"model": "cond", "seeds": [1], **fields})


def _morph(**fields) -> str:
    return json.dumps({"model": "plain", "seed_a": 1, "seed_b": 2, **fields})


G, M, S = "/api/generate", "/api/morph", "/api/models"
# (method, path, raw body or None, expected status, words in the detail)
HOSTILE = [
    # numbers far out of range: JSON big ints, huge floats, negatives, zero, NaN
    ("POST", G, json.dumps({"model": "plain", "seed": 10**400, "count": 1}), 422, "seed ~10^400"),
    ("POST", G, json.dumps({"model": "plain", "count": 10**400}), 422, "count ~10^400"),
    ("POST", G, _gen(seeds=[10**400]), 422, "seed ~10^400"),
    ("POST", G, _gen(seeds=[-(10**400)]), 422, "seed -~10^400"),
    ("POST", G, _gen(scale=10**400), 422, "scale ~10^400"),
    ("POST", G, _gen(scale=float("inf")), 422, "scale"),
    ("POST", G, _gen(truncation=float("inf")), 422, "truncation"),
    ("POST", G, _gen(truncation=10**400), 422, "truncation"),
    ("POST", G, _gen(truncation=float("-inf")), 422, "truncation"),
    ("POST", G, _gen(truncation=float("nan")), 422, "truncation"),
    ("POST", G, _gen(truncation=-0.5), 422, "truncation"),
    ("POST", G, _gen(scale=0), 422, "max_scale"),
    ("POST", G, _gen(scale=-3), 422, "max_scale"),
    ("POST", G, _gen(scale=2.5), 422, "scale"),
    ("POST", G, '{"model": "plain", "seeds": [1], "scale": 1e400}', 422, "scale"),
    ("POST", G, '{"model": "plain", "count": 0}', 422, "count"),
    ("POST", G, '{"model": "plain", "count": -5}', 422, "count"),
    ("POST", G, '{"model": "plain", "count": NaN}', 422, "count"),
    ("POST", G, _gen(seeds=[]), 422, "max_count"),
    ("POST", G, '{"model": "plain", "seed": -1, "count": 2}', 422, "seed"),
    ("POST", M, _morph(frames=10**400), 422, "frames ~10^400"),
    ("POST", M, _morph(frames=0), 422, "frames"),
    ("POST", M, _morph(frames=float("inf")), 422, "frames"),
    ("POST", M, _morph(seed_a=10**400), 422, "seed"),
    ("POST", M, _morph(seed_b=-2), 422, "seed"),
    ("POST", M, _morph(scale=99), 422, "max_scale"),
    ("POST", "/api/edit", json.dumps({"model": "plain", "seed": 10**400, "directions": {}}), 422, "seed"),
    (
        "POST",
        "/api/edit",
        json.dumps({"model": "plain", "seed": 1, "directions": "smile"}),
        422,
        "directions",
    ),
    # wrong types
    ("POST", G, _cond(traits="hair=afro"), 400, "hair=afro"),
    ("POST", G, _cond(traits=["hat"]), 422, "traits: give"),
    ("POST", G, _cond(traits=7), 422, "traits: give"),
    ("POST", G, _cond(traits={"hat": [1]}), 422, "traits"),
    ("POST", G, _cond(traits={"type": 10**400}), 400, "~10^400"),
    ("POST", G, _cond(traits={"hat": 10**400}), 400, "binary"),
    ("POST", G, _gen(traits="hat"), 400, "unconditional"),
    ("POST", G, _gen(seeds="1,2"), 422, "seeds"),
    ("POST", G, _gen(model=["plain"]), 422, "model"),
    ("POST", G, _gen(palette="maybe"), 422, "palette"),
    ("POST", G, _gen(background="red"), 422, "background"),
    ("POST", G, _gen(format={"png": 1}), 422, "format"),
    # unknown traits and classes
    ("POST", G, _cond(traits={"hair": "afro"}), 400, "valid traits: type, hat"),
    ("POST", G, _cond(traits="type=robot"), 400, "type=robot"),
    ("POST", G, _cond(traits={"type": 9}), 400, "not a class"),
    # run names: unknown, traversal, absolute, encoded, control characters, very long
    ("POST", G, _gen(model="nobody"), 404, "available: cond, plain"),
    ("POST", G, _gen(model="../plain"), 400, "invalid model name"),
    ("POST", G, _gen(model="/etc/passwd"), 400, "invalid model name"),
    ("POST", G, _gen(model="%2e%2e%2fplain"), 400, "invalid model name"),
    ("POST", G, _gen(model="plain\x00"), 400, "invalid model name"),
    ("POST", G, _gen(model=""), 400, "invalid model name"),
    ("POST", M, _morph(model=".."), 400, "invalid model name"),
    ("GET", f"{S}/nobody/sheet", None, 404, "no model"),
    ("GET", f"{S}/..%2F..%2Fetc/sheet", None, 404, ""),
    ("GET", f"{S}/%2Fetc%2Fpasswd/sheet", None, 404, ""),
    ("GET", f"{S}/..%5Cplain/sheet", None, 400, "invalid model name"),
    ("GET", f"{S}/%2e%2e/sheet", None, 400, "invalid model name"),
    ("GET", f"{S}/plain%00/sheet", None, 400, "invalid model name"),
    ("GET", f"{S}/{'a' * 3000}/sheet", None, 400, "invalid model name"),
    ("GET", "/static/../../etc/passwd", None, 404, ""),
    ("GET", "/static/%2e%2e/app.py", None, 404, ""),
    # bodies: malformed, not an object, oversized
    ("POST", G, "{not json", 422, "not valid JSON"),
    ("POST", G, '{"model": "plain", "seeds": [1]', 422, "not valid JSON"),
    ("POST", G, "", 422, ""),
    ("POST", G, '"plain"', 422, "JSON object"),
    ("POST", G, "null", 422, "JSON object"),
    ("POST", G, "[" * 1500 + "]" * 1500, 400, "parsing the body"),
    ("POST", G, _gen(junk=1), 422, "junk"),
    ("POST", G, _gen(pad="x" * 5000), 413, "4096 bytes"),
    ("POST", M, '{"model": "plain"}', 422, "seed_a"),
    # wrong methods and paths
    ("GET", G, None, 405, "Method Not Allowed"),
    ("PUT", S, None, 405, "Method Not Allowed"),
    ("DELETE", M, None, 405, "Method Not Allowed"),
    ("POST", f"{S}/plain/sheet", None, 405, "Method Not Allowed"),
    ("GET", "/api/nothing-here", None, 404, "Not Found"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "words"), HOSTILE)
def test_hostile_request_gets_4xx_json(
    client: TestClient, method: str, path: str, body: str | None, status: int, words: str
) -> None:
    content = body.encode() if body is not None else None
    r = client.request(method, path, content=content, headers={"content-type": "application/json"})
    assert words in _refused(r, status)
    _still_serving(client)


def test_integers_past_pythons_digit_limit(runs: Path) -> None:
    """5,000 digits: more than int() and str() accept by default (4,300): FastAPI's JSON parser refuses it."""
    client = _studio(runs, Limits())
    digits, headers = "9" * 5000, {"content-type": "application/json"}
    for field in ("seed", "count", "scale"):
        body = f'{{"model": "plain", "{field}": {digits}}}'.encode()
        assert "parsing the body" in _refused(
            client.post("/api/generate", content=body, headers=headers), 400
        )
    body = f'{{"model": "cond", "traits": {{"type": {digits}}}}}'.encode()
    _refused(client.post("/api/generate", content=body, headers=headers), 400)
    _still_serving(client)


def test_corpus_is_large() -> None:
    assert len(HOSTILE) >= 30


def test_bad_bytes_and_content_types(client: TestClient) -> None:
    r = client.post("/api/generate", content=b"\xff\xfe{}", headers={"content-type": "application/json"})
    assert "not valid JSON" in _refused(r, 422)
    body = json.dumps(GOOD).encode()
    r = client.post("/api/generate", content=body, headers={"content-type": "text/plain"})
    assert "content-type: application/json" in _refused(r, 422)
    r = client.post("/api/generate", content=body, headers={"content-length": "99999999999999999999"})
    _refused(r, 413)
    _still_serving(client)


def test_documented_trait_string_is_accepted(client: TestClient) -> None:
    as_text = client.post("/api/generate", json={"model": "cond", "seeds": [2], "traits": "type=zombie,hat"})
    as_object = client.post(
        "/api/generate", json={"model": "cond", "seeds": [2], "traits": {"type": 1, "hat": 1}}
    )
    assert as_text.status_code == as_object.status_code == 200
    assert as_text.content == as_object.content


# --- Host header (DNS rebinding) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "127.0.0.1.evil.example",
        "localhost.evil.example:8000",
        "10.0.0.7:8000",
    ],
)
def test_foreign_host_gets_421(client: TestClient, host: str) -> None:
    r = client.get("/api/models", headers={"host": host})
    assert "--allow-host" in _refused(r, 421)
    # refused before the body is read or any work is done
    r = client.post("/api/generate", content=b"x" * 9000, headers={"host": host})
    _refused(r, 421)
    _still_serving(client)


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "LocalHost:1234", "[::1]:8000", "[::1]"])
def test_loopback_hosts_are_answered(client: TestClient, host: str) -> None:
    assert client.get("/api/models", headers={"host": host}).status_code == 200


def test_missing_host_header_gets_421(runs: Path) -> None:
    app = create_app(runs, LIMITS)
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/api/models", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 421 and b"without a Host header" in sent[1]["body"]


def test_host_allowlist_rules() -> None:
    assert host_name("[::1]:8000") == "::1" and host_name("LOCALHOST:80") == "localhost"
    loop = HostAllowlist("127.0.0.1")
    assert loop.allows("localhost:8000") and not loop.allows("192.168.1.5:8000") and not loop.allows(None)
    lan = HostAllowlist("192.168.1.5")
    assert lan.allows("192.168.1.5:8000") and not lan.allows("studio.lan")
    every = HostAllowlist("0.0.0.0", ["studio.lan"])
    assert every.allows("192.168.1.5:8000") and every.allows("[fe80::1]:8000") and every.allows("studio.lan")
    assert not every.allows("evil.example") and not every.allows("studio.lan.evil.example")
    assert HostAllowlist("127.0.0.1", ["*"]).allows("anything.example")
    app = create_app(Path("/nonexistent"), LIMITS, ["studio.lan"])
    assert _studio(Path(), host="studio.lan:8000", app=app).get("/api/models").json()["models"] == []


def test_serve_command_passes_host_and_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spritegan.cli import main
    from spritegan.serve import guard

    seen: dict = {}

    class FakeServer:
        def run(self) -> None:
            seen["ran"] = True

    def fake_server(app, host, port, *, header_timeout_s, **_):
        seen.update(app=app, host=host, port=port, header_timeout_s=header_timeout_s)
        return FakeServer()

    monkeypatch.setattr(guard, "studio_server", fake_server)
    args = [
        "serve",
        str(tmp_path),
        "--host",
        "0.0.0.0",
        "--allow-host",
        "studio.lan",
        "--header-timeout",
        "3",
    ]
    assert main(args) == 0 and seen["ran"] and seen["header_timeout_s"] == 3.0
    tc = _studio(tmp_path, host="studio.lan", app=seen["app"])
    assert tc.get("/api/models").status_code == 200
    assert tc.get("/api/models", headers={"host": "evil.example"}).status_code == 421
    for bad in (["--header-timeout", "0"], ["--header-timeout", "nan"], ["--timeout", "-1"]):
        assert main(["serve", str(tmp_path), *bad]) == 2


# --- symlinks out of the runs folder ------------------------------------------------------------------------


def test_sheet_does_not_follow_symlinks_out(tmp_path: Path) -> None:
    runs = make_runs(tmp_path / "inside")
    secret_dir = tmp_path / "outside"
    secret_dir.mkdir()
    secret = secret_dir / "secret.png"
    Image.new("RGBA", (5, 5), (0, 255, 0, 255)).save(secret)
    client = _studio(runs)
    own = client.get("/api/models/plain/sheet").content

    samples = runs / "plain" / "samples"
    (samples / "step-999999.png").symlink_to(secret)  # the newest name, pointing outside
    r = client.get("/api/models/plain/sheet")
    assert r.status_code == 200 and r.content == own and r.content != secret.read_bytes()

    (samples / "step-000001.png").symlink_to(samples / "step-000000.png")  # a link that stays inside is fine
    assert client.get("/api/models/plain/sheet").content == own

    (runs / "cond" / "samples").symlink_to(secret_dir, target_is_directory=True)  # the whole folder
    assert "no sample sheet" in _refused(client.get("/api/models/cond/sheet"), 404)

    (runs / "alias").symlink_to(runs / "cond", target_is_directory=True)  # a run link inside RUNS_DIR: listed
    outside_run = tmp_path / "stray" / "run"
    outside_run.parent.mkdir()
    (runs / "plain").rename(outside_run)
    (runs / "plain").symlink_to(outside_run, target_is_directory=True)  # a run folder that leaves RUNS_DIR
    names = [m["name"] for m in client.get("/api/models").json()["models"]]
    assert "plain" not in names and {"cond", "alias"} <= set(names)
    _refused(client.get("/api/models/plain/sheet"), 404)
    _refused(client.post("/api/generate", json=GOOD), 404)


def test_metrics_and_directions_do_not_follow_symlinks_out(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    runs = make_runs(tmp_path / "inside")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "metrics.jsonl").write_text(json.dumps({"fid": 1.0}) + "\n")
    save_file({"direction": torch.ones(8)}, str(outside / "leak.safetensors"))
    (runs / "cond" / "metrics.jsonl").symlink_to(outside / "metrics.jsonl")
    (runs / "cond" / "directions").mkdir()
    (runs / "cond" / "directions" / "leak.safetensors").symlink_to(outside / "leak.safetensors")
    client = _studio(runs)
    cond = next(m for m in client.get("/api/models").json()["models"] if m["name"] == "cond")
    assert cond["metrics"] == {} and cond["directions"] == []


# --- slow headers (slowloris) -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(runs: Path) -> Iterator[tuple[int, float]]:
    """The real uvicorn server, as `spritegan serve` builds it, with a 0.6 s header deadline and 1 s for bodies."""
    deadline = 0.6
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(runs, dataclasses.replace(LIMITS, body_timeout_s=1.0))
    server = studio_server(app, "127.0.0.1", port, header_timeout_s=deadline)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    until = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < until, "uvicorn did not start"
        time.sleep(0.02)
    yield port, deadline
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _closed_after(conn: socket.socket, drip: bytes | None, limit: float) -> float:
    """Seconds until the server closes `conn` while we drip a header line every 0.15 s (at most `limit`)."""
    start = time.monotonic()
    conn.settimeout(0.15)
    while time.monotonic() - start < limit:
        try:
            data = conn.recv(65536)
        except TimeoutError:
            if drip:
                try:
                    conn.sendall(drip)
                except OSError:
                    return time.monotonic() - start
            continue
        except OSError:
            return time.monotonic() - start
        if not data:
            return time.monotonic() - start
    return float("inf")


def _get(port: int, host: str = "127.0.0.1") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/models", headers={"Host": host})
    return conn.getresponse()


def test_slow_headers_are_cut_off(live: tuple[int, float]) -> None:
    port, deadline = live
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"GET /api/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        took = _closed_after(conn, b"X-Slow: 1\r\n", limit=10)
    assert deadline * 0.8 <= took < deadline + 4.0, took
    r = _get(port)
    assert r.status == 200 and json.loads(r.read())["models"]


def test_silent_connection_is_cut_off(live: tuple[int, float]) -> None:
    port, deadline = live
    with socket.create_connection(("127.0.0.1", port)) as conn:
        took = _closed_after(conn, None, limit=10)
    assert took < deadline + 4.0, took


def test_slow_headers_after_a_keep_alive_request(live: tuple[int, float]) -> None:
    port, deadline = live
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"GET /api/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        while b"\r\n\r\n" not in first:
            first += conn.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        time.sleep(0.2)  # drain the rest of the first response inside _closed_after
        conn.sendall(b"GET /api/models HTTP/1.1\r\n")
        took = _closed_after(conn, b"X-Slow: 1\r\n", limit=10)
    assert took < deadline + 4.0, took


def test_trickled_body_gets_408(live: tuple[int, float]) -> None:
    port, _ = live
    with socket.create_connection(("127.0.0.1", port)) as conn:
        head = b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        conn.sendall(head + b"Content-Length: 200\r\n\r\n{")
        start, reply = time.monotonic(), b""
        conn.settimeout(0.2)
        while b"\r\n\r\n" not in reply and time.monotonic() - start < 15:
            try:
                reply += conn.recv(65536)
            except TimeoutError:
                conn.sendall(b" ")  # one byte every 0.2 s: never a stall, never done
        took = time.monotonic() - start
    assert reply.startswith(b"HTTP/1.1 408") and took < 5, (reply[:200], took)
    assert _get(port).status == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"HELLO\r\n\r\n",
        b"GET /api/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000,  # unfinished, over 16 KiB
        b"GET /api/models HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
    ],
    ids=["garbage", "huge-header", "negative-length", "5000-digit-length"],
)
def test_unparsable_requests_get_json_400(live: tuple[int, float], raw: bytes) -> None:
    port, _ = live
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(raw)
        conn.settimeout(10)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
    assert json.loads(body)["detail"].startswith("bad HTTP request")
    assert _get(port).status == 200


def test_live_server_checks_host_and_stays_up(live: tuple[int, float]) -> None:
    port, _ = live
    r = _get(port, host="rebound.evil.example")
    assert r.status == 421 and "not served here" in json.loads(r.read())["detail"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/api/generate", body=json.dumps(GOOD), headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200 and r.read()[:4] == b"\x89PNG"
    # a request that sends its head promptly but then waits less than the deadline is unaffected
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(b"GET /api/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        time.sleep(0.2)
        raw.sendall(b"\r\n")
        raw.settimeout(10)
        assert raw.recv(65536).startswith(b"HTTP/1.1 200")
