"""Studio API with FastAPI's TestClient: models, generate (png/json/zip), morph, traits, edit, hostile input."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from studio_fixtures import make_runs

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from spritegan.serve.app import create_app  # noqa: E402
from spritegan.serve.studio import Limits  # noqa: E402

LOCAL = "http://127.0.0.1:8000"  # the studio answers loopback Host headers only (TestClient's default is not)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return make_runs(tmp_path_factory.mktemp("studio"))


@pytest.fixture(scope="module")
def client(runs: Path) -> TestClient:
    limits = Limits(max_count=64, max_scale=8, max_frames=16, max_output_pixels=200_000, max_body_bytes=4096)
    return TestClient(create_app(runs, limits), base_url=LOCAL)


def _png(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(data))


def _ok(client: TestClient) -> None:
    assert client.get("/api/models").status_code == 200


def test_page_and_openapi(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'id="model-select"' in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/app.css").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/models", "/api/generate", "/api/morph", "/api/edit"} <= set(paths)


def test_models_list(client: TestClient) -> None:
    models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert set(models) == {"cond", "plain"}
    plain, cond = models["plain"], models["cond"]
    assert plain["size"] == [16, 16] and plain["channels"] == 4 and not plain["conditional"]
    assert plain["metrics"]["fid"] == pytest.approx(123.4) and plain["sheet_url"] == "/api/models/plain/sheet"
    assert cond["conditional"] and cond["sheet_url"] is None and cond["directions"] == []
    assert cond["traits"] == [
        {"name": "type", "kind": "categorical", "classes": ["alien", "zombie"]},
        {"name": "hat", "kind": "binary", "classes": ["hat"]},
    ]
    _png(client.get("/api/models/plain/sheet").content)
    assert "no sample sheet" in client.get("/api/models/cond/sheet").json()["detail"]


def test_generate_png_single_and_sheet(client: TestClient) -> None:
    one = client.post("/api/generate", json={"model": "plain", "seeds": [7], "scale": 4})
    assert one.status_code == 200 and one.headers["content-type"] == "image/png"
    assert _png(one.content).size == (64, 64) and _png(one.content).mode == "RGBA"
    sheet = client.post("/api/generate", json={"model": "plain", "seed": 0, "count": 9, "format": "sheet"})
    assert _png(sheet.content).size == (3 * 17 + 1, 3 * 17 + 1)


def test_generate_matches_pipeline(client: TestClient, runs: Path) -> None:
    from spritegan.generate.pipeline import SpritePipeline

    pipe = SpritePipeline.from_run(runs / "plain")
    ref = pipe([5], truncation=0.7)[0].permute(1, 2, 0).numpy()
    got = client.post("/api/generate", json={"model": "plain", "seeds": [5], "truncation": 0.7})
    assert (torch.from_numpy(__import__("numpy").array(_png(got.content))).numpy() == ref).all()


def test_generate_json(client: TestClient) -> None:
    r = client.post("/api/generate", json={"model": "plain", "seed": 10, "count": 3, "format": "json"})
    body = r.json()
    assert [s["seed"] for s in body["sprites"]] == [10, 11, 12]
    _png(base64.b64decode(body["sprites"][0]["png"]))


def test_zip_manifest_regenerates_same_bytes(client: TestClient) -> None:
    req = {
        "model": "cond",
        "seeds": [3, 9],
        "traits": {"type": "zombie", "hat": 1},
        "truncation": 0.8,
        "format": "zip",
        "scale": 2,
        "palette": True,
    }
    r = client.post("/api/generate", json=req)
    assert r.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    assert set(zf.namelist()) == {"seed000003.png", "seed000009.png", "sheet.png", "manifest.json"}
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["seeds"] == [3, 9] and manifest["traits"] == {"type": "zombie", "hat": 1}
    assert manifest["labels"] == [[0.0, 1.0, 1.0]] * 2  # one row per sprite
    again = {**manifest["request"], "seeds": [9]}
    assert client.post("/api/generate", json=again).content == zf.read("seed000009.png")


def test_traits_change_output_and_unknown_traits(client: TestClient) -> None:
    def gen(traits: dict) -> bytes:
        return client.post("/api/generate", json={"model": "cond", "seeds": [1], "traits": traits}).content

    assert gen({"type": "alien"}) != gen({"type": "zombie"})
    assert gen({"type": 1}) == gen({"type": "zombie"})
    bad = client.post("/api/generate", json={"model": "cond", "seeds": [1], "traits": {"colour": "red"}})
    assert bad.status_code == 400 and "valid traits: type, hat" in bad.json()["detail"]
    bad = client.post("/api/generate", json={"model": "cond", "seeds": [1], "traits": {"type": "robot"}})
    assert bad.status_code == 400 and "alien, zombie" in bad.json()["detail"]
    bad = client.post("/api/generate", json={"model": "cond", "seeds": [1], "traits": {"hat": 5}})
    assert bad.status_code == 400 and "binary" in bad.json()["detail"]
    bad = client.post("/api/generate", json={"model": "plain", "seeds": [1], "traits": {"hat": 1}})
    assert bad.status_code == 400 and "unconditional" in bad.json()["detail"]


def test_unasked_traits_are_drawn_from_the_training_labels(client: TestClient) -> None:
    def labels(traits: object, seeds: list[int]) -> list:
        body = {"model": "cond", "seeds": seeds, "format": "json", "traits": traits}
        r = client.post("/api/generate", json=body)
        assert r.status_code == 200, r.text
        return r.json()["labels"]

    seeds = list(range(40))
    drawn = labels(
        None, seeds
    )  # no traits: each seed's traits from the data (3 bare aliens, 1 zombie in a hat)
    assert {tuple(r) for r in drawn} == {(1.0, 0.0, 0.0), (0.0, 1.0, 1.0)}
    assert 3 <= sum(r[1] for r in drawn) <= 20
    assert labels({}, seeds) == drawn == labels("", seeds)
    assert labels(None, [7]) == [drawn[7]]  # the same sprite in any batch
    assert labels({"type": "zombie"}, seeds[:8]) == [[0.0, 1.0, 1.0]] * 8  # a zombie's hat comes with it
    assert labels("type=zombie", seeds[:8]) == [[0.0, 1.0, 1.0]] * 8
    assert labels({"hat": 0}, seeds[:8]) == [[1.0, 0.0, 0.0]] * 8  # no hat asked: only aliens lack one
    assert labels({"type": "zombie", "hat": 0}, [1])[0][:3] == [0.0, 1.0, 0.0]  # asked beats the data
    assert labels("none", [1]) is None  # the unconditional slot
    free = client.post("/api/generate", json={"model": "cond", "seeds": [1], "traits": "none"}).content
    assert free != client.post("/api/generate", json={"model": "cond", "seeds": [1]}).content


def test_morph_png_and_gif(client: TestClient) -> None:
    strip = client.post("/api/morph", json={"model": "plain", "seed_a": 1, "seed_b": 2, "frames": 5})
    assert _png(strip.content).size == (5 * 17 + 1, 18)
    gif = client.post(
        "/api/morph",
        json={
            "model": "cond",
            "seed_a": 1,
            "seed_b": 2,
            "frames": 4,
            "format": "gif",
            "mode": "lerp",
            "traits": {"type": "alien"},
            "scale": 2,
        },
    )
    assert gif.headers["content-type"] == "image/gif"
    assert Image.open(io.BytesIO(gif.content)).n_frames == 4


def test_edit_without_and_with_directions(client: TestClient, runs: Path) -> None:
    from safetensors.torch import save_file

    r = client.post("/api/edit", json={"model": "plain", "seed": 1, "directions": {"smile": 1.0}})
    assert r.status_code == 404 and "no latent directions" in r.json()["detail"]
    (runs / "plain" / "directions").mkdir()
    save_file({"direction": torch.ones(8)}, str(runs / "plain" / "directions" / "bright.safetensors"))
    try:
        assert client.get("/api/models").json()["models"][1]["directions"] == ["bright"]
        base = client.post("/api/edit", json={"model": "plain", "seed": 1, "directions": {"bright": 0.0}})
        moved = client.post("/api/edit", json={"model": "plain", "seed": 1, "directions": {"bright": 3.0}})
        same = client.post("/api/generate", json={"model": "plain", "seeds": [1]})
        assert base.content == same.content and moved.content != base.content
        bad = client.post("/api/edit", json={"model": "plain", "seed": 1, "directions": {"nope": 1}})
        assert bad.status_code == 400 and "bright" in bad.json()["detail"]
        bad = client.post("/api/edit", json={"model": "plain", "seed": 1, "directions": {"bright": 1e9}})
        assert bad.status_code == 422
    finally:
        (runs / "plain" / "directions" / "bright.safetensors").unlink()
        (runs / "plain" / "directions").rmdir()


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/api/generate", {"model": "../plain", "seeds": [1]}, 400, "invalid model name"),
        ("/api/generate", {"model": "/etc/passwd", "seeds": [1]}, 400, "invalid model name"),
        ("/api/generate", {"model": "..\\plain", "seeds": [1]}, 400, "invalid model name"),
        ("/api/generate", {"model": "missing", "seeds": [1]}, 404, "available: cond, plain"),
        ("/api/generate", {"model": "not-a-run", "seeds": [1]}, 404, "no model"),
        ("/api/generate", {"model": "plain", "count": 100000}, 422, "max_count"),
        ("/api/generate", {"model": "plain", "seeds": list(range(65))}, 422, "max_count"),
        ("/api/generate", {"model": "plain", "count": 0}, 422, "count"),
        ("/api/generate", {"model": "plain", "seeds": [-1]}, 422, "seed"),
        ("/api/generate", {"model": "plain", "seeds": [2**64]}, 422, "seed"),
        ("/api/generate", {"model": "plain", "seeds": [1], "scale": 1000}, 422, "max_scale"),
        ("/api/generate", {"model": "plain", "seeds": [1], "truncation": 50}, 422, "truncation"),
        ("/api/generate", {"model": "plain", "count": 64, "scale": 8}, 413, "pixels"),
        ("/api/generate", {"model": "plain", "seeds": [1], "format": "bmp"}, 422, "format"),
        ("/api/generate", {"model": "plain", "seeds": [1], "extra": 1}, 422, "extra"),
        ("/api/generate", {"seeds": [1]}, 422, "model"),
        ("/api/morph", {"model": "plain", "seed_a": 1, "seed_b": 2, "frames": 500}, 422, "max_frames"),
        ("/api/morph", {"model": "plain", "seed_a": 1, "seed_b": 2, "mode": "cubic"}, 422, "mode"),
        ("/api/edit", {"model": "plain", "seed": 1, "directions": {"x": "big"}}, 422, "directions"),
    ],
)
def test_hostile_json(client: TestClient, path: str, body: dict, status: int, words: str) -> None:
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    _ok(client)


def test_hostile_raw_bodies_and_paths(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    r = client.post("/api/generate", content=b"{not json", headers=headers)
    assert r.status_code == 422 and r.json()["detail"]
    r = client.post("/api/generate", content=b"[1, 2]", headers=headers)
    assert r.status_code == 422
    r = client.post(
        "/api/generate", content=b'{"model": "plain", "seeds": [1], "truncation": NaN}', headers=headers
    )
    assert r.status_code == 422
    r = client.post("/api/generate", content=b"x" * 5000, headers=headers)
    assert r.status_code == 413 and "4096 bytes" in r.json()["detail"]

    def chunks():
        for _ in range(10):
            yield b" " * 1000

    r = client.post("/api/generate", content=chunks(), headers=headers)
    assert r.status_code == 413
    for bad in (
        "/api/models/..%2F..%2Fetc/sheet",
        "/api/models/%2Fetc%2Fpasswd/sheet",
        "/api/models/a%5Cb/sheet",
    ):
        assert client.get(bad).status_code in (400, 404)
    assert client.get("/api/models/..%5Cplain/sheet").status_code == 400
    _ok(client)


def test_busy_generator_times_out(runs: Path) -> None:
    app = create_app(runs, Limits(timeout_s=0.2))
    studio = app.state.studio
    studio.lock.acquire()
    local = TestClient(app, base_url=LOCAL)
    try:
        r = local.post("/api/generate", json={"model": "plain", "seeds": [1]})
        assert r.status_code in (503, 504) and r.json()["detail"]
    finally:
        studio.lock.release()
    assert local.post("/api/generate", json={"model": "plain", "seeds": [1]}).status_code == 200


def test_slow_client_body_gets_408(runs: Path) -> None:
    import asyncio

    app = create_app(runs, Limits(body_timeout_s=0.1))
    sent: list[dict] = []

    async def stalled_receive() -> dict:
        await asyncio.sleep(5)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"host", b"127.0.0.1:8000")]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/generate",
        "headers": headers,
        "query_string": b"",
    }
    asyncio.run(_call(app, scope, stalled_receive, send))
    assert sent[0]["status"] == 408 and b"stalled" in sent[1]["body"]


async def _call(app, scope: dict, receive, send) -> None:
    await app(scope, receive, send)


def test_serve_command_errors(tmp_path: Path) -> None:
    from spritegan.cli import main

    assert main(["serve", str(tmp_path / "missing")]) == 2
    assert main(["serve", str(tmp_path), "--max-count", "0"]) == 2


def test_model_metrics_come_from_eval_or_training(tmp_path: Path) -> None:
    import os

    from spritegan.serve.studio import Limits, ModelStore

    runs = make_runs(tmp_path)
    run = runs / "cond"
    (run / "metrics.jsonl").write_text(
        json.dumps({"samples": 500, "metrics": {"fid": 55.5, "kid_mean": 0.01}})
    )
    (run / "eval.jsonl").write_text(json.dumps({"step": 4, "fid": 77.7}) + "\n")
    os.utime(run / "metrics.jsonl", (1, 1))  # the training evaluation is newer
    registry = ModelStore(runs, Limits())
    assert registry.metrics("cond")["fid"] == pytest.approx(77.7)
    os.utime(run / "eval.jsonl", (0, 0))
    assert registry.metrics("cond")["fid"] == pytest.approx(55.5)
