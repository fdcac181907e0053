"""The sprite studio: a FastAPI app serving the single page and a JSON API over a folder of runs.

Routes: GET / (the page), GET /api/models, GET /api/models/{name}/sheet, POST /api/generate,
POST /api/morph, POST /api/edit, GET /openapi.json. Generation runs in a worker thread behind one lock with a
per-request time bound; every refusal is a 4xx with a one-line `detail`. Requests whose Host header is not
allowed get 421 (see `spritegan.serve.guard`).
"""

from __future__ import annotations

import asyncio
import base64
import math
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import torch
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from spritegan import __version__
from spritegan.data.tiles import tile_repeat
from spritegan.generate.edit import edit_ws
from spritegan.generate.interpolate import interpolate
from spritegan.generate.morph import morph_frames
from spritegan.generate.pipeline import best_of_rank
from spritegan.generate.postprocess import upscale
from spritegan.generate.sheet import make_sheet, to_pil
from spritegan.serve.guard import HostAllowlist, HostCheck, json_error
from spritegan.serve.studio import (
    Limits,
    ModelStore,
    StudioError,
    gif_bytes,
    labels_for_request,
    png_bytes,
    shown,
    zip_bundle,
)

STATIC = Path(__file__).parent / "static"
MAX_SEED = 2**63 - 1
MAX_REPEAT = 4
Traits = dict[str, str | int | bool] | str | None
Background = Literal["transparent", "checker", "white"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model: str = Field(description="model name (a folder under RUNS_DIR)")
    traits: Traits = Field(None, description='conditional models: {"type": "alien", "hat": 1}')
    truncation: float = Field(1.0, description="truncation psi; < 1 is safer and less varied")
    scale: int = Field(1, description="nearest-neighbour upscale factor")
    palette: bool = Field(False, description="snap visible pixels to the dataset palette")
    background: Background = "transparent"


class GenerateBody(_Body):
    seeds: list[int] | None = Field(None, description="explicit seeds (overrides seed/count)")
    seed: int = Field(0, description="first seed of a range")
    count: int = Field(16, description="number of seeds in the range seed..seed+count-1")
    format: Literal["png", "sheet", "json", "zip"] = "png"
    repeat: int = Field(1, description="each sprite repeated repeat x repeat times (seamless tiles: 3)")
    best_of: int = Field(
        1, description="latents tried per seed, the best kept by the run's sheet reader or refiner (1: off)"
    )


class MorphBody(_Body):
    seed_a: int
    seed_b: int
    frames: int = 8
    mode: Literal["slerp", "lerp"] = Field(
        "slerp", description="path in z; StyleGAN-style runs morph in W (lerp)"
    )
    format: Literal["png", "gif"] = "png"


class EditBody(_Body):
    seed: int
    directions: dict[str, float] = Field(description="{direction name: amount}")
    format: Literal["png", "json"] = "png"


class BodyLimit:
    """ASGI middleware: read the whole body first, refusing over max_bytes (413) or a body that is not complete
    within body_timeout_s, stalled or trickled (408)."""

    def __init__(self, app: Any, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limits.max_body_bytes
        too_large = f"request body over the server limit of {limit} bytes"
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or len(length) > 15 or int(length) > limit):
            return await json_error(send, 413, too_large)
        chunks, size, more = [], 0, True
        loop = asyncio.get_running_loop()
        until = loop.time() + self.limits.body_timeout_s
        while more:
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, until - loop.time()))
            except TimeoutError:
                return await json_error(
                    send, 408, f"request body stalled: not complete within {self.limits.body_timeout_s:g}s"
                )
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await json_error(send, 413, too_large)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _check_range(name: str, value: float, low: float, high: float, why: str) -> None:
    """422 unless low <= value <= high; integers of any size are compared exactly, never as floats."""
    finite = not isinstance(value, float) or math.isfinite(value)
    if not (finite and low <= value <= high):
        raise StudioError(422, f"{name} {shown(value)}: choose {shown(low)} to {shown(high)} ({why})")


TRAITS_FORM = 'give an object like {"type": "alien", "hat": 1} or a string like "type=alien,hat"'


def _validation_message(err: dict) -> str:
    """One readable clause for a pydantic error: bad JSON, a body that is not an object, traits, or a field."""
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    kind = err.get("type", "")
    if kind == "json_invalid":
        return f"body is not valid JSON ({(err.get('ctx') or {}).get('error', 'decode error')})"
    if not loc and kind in ("model_attributes_type", "dict_type"):
        return "body: send one JSON object with content-type: application/json"
    if loc[:1] == ["traits"]:
        return f"traits: {TRAITS_FORM}"
    return f"{'.'.join(loc) or 'body'}: {err.get('msg', 'invalid')}"


class Studio:
    """Request handling: validation against Limits, then rendering under the generator lock."""

    def __init__(self, runs_dir: str | Path, limits: Limits) -> None:
        self.limits = limits
        self.store = ModelStore(runs_dir, limits)
        self.lock = threading.Lock()

    async def run(self, fn: Any, *args: Any) -> Any:
        """Run fn in a worker thread under the lock, bounded by limits.timeout_s (503/504 otherwise)."""
        try:
            return await asyncio.wait_for(run_in_threadpool(self._locked, fn, *args), self.limits.timeout_s)
        except TimeoutError as exc:
            raise StudioError(504, f"generation took over {self.limits.timeout_s:g}s; ask for less") from exc

    def _locked(self, fn: Any, *args: Any) -> Any:
        if not self.lock.acquire(timeout=self.limits.timeout_s):
            raise StudioError(503, "the generator is busy; try again shortly")
        try:
            with torch.inference_mode():
                return fn(*args)
        finally:
            self.lock.release()

    def common(self, body: _Body, seeds: list[int], n: int | None = None) -> tuple[Any, torch.Tensor | None]:
        """Check scale/truncation/output size (of n sprites, default one per seed) and build the labels of a
        conditional model, one row per seed (`labels_for_request`); returns (pipeline, labels | None)."""
        n = len(seeds) if n is None else n
        lim = self.limits
        _check_range("truncation", body.truncation, 0.0, lim.max_truncation, "server limit max_truncation")
        _check_range("scale", body.scale, 1, lim.max_scale, "server limit max_scale")
        pipe = self.store.pipeline(body.model)
        h, w = pipe.model_config.image_size
        pixels = n * h * w * body.scale**2 * getattr(body, "repeat", 1) ** 2
        if pixels > lim.max_output_pixels:
            raise StudioError(
                413,
                f"{n} sprites at scale {body.scale} make {pixels} pixels; the limit is {lim.max_output_pixels}",
            )
        if not pipe.model_config.cond_dim:
            if body.traits not in (None, {}, ""):
                raise StudioError(400, f"model {body.model!r} is unconditional: it takes no traits")
            return pipe, None
        return pipe, labels_for_request(pipe, body.traits, seeds)

    def seeds(self, body: GenerateBody) -> list[int]:
        """The request's seeds, bounded by max_count."""
        lim = self.limits
        if body.seeds is not None:
            seeds = body.seeds
        else:
            _check_range("count", body.count, 1, lim.max_count, "server limit max_count")
            seeds = list(range(body.seed, body.seed + body.count))
        if not 1 <= len(seeds) <= lim.max_count:
            raise StudioError(422, f"{len(seeds)} seeds: give 1 to {lim.max_count} (server limit max_count)")
        for s in (min(seeds), max(seeds)):
            _check_range("seed", s, 0, MAX_SEED, "seeds are non-negative 63-bit integers")
        return seeds

    def generate(self, body: GenerateBody, seeds: list[int]) -> Response:
        """Render a generate request as PNG, sheet, JSON or ZIP."""
        _check_range("repeat", body.repeat, 1, MAX_REPEAT, "a tile repeated up to 4 x 4")
        _check_range("best_of", body.best_of, 1, self.limits.max_best_of, "server limit max_best_of")
        pipe, labels = self.common(body, seeds)
        if body.best_of > 1 and best_of_rank(pipe.generator) is None:
            raise StudioError(400, f"model {body.model!r} has no trained refiner or sheet reader to rank by")
        images = pipe(
            seeds, labels=labels, truncation=body.truncation, palette=body.palette, best_of=body.best_of
        )
        images = tile_repeat(images, body.repeat)
        big = upscale(images, body.scale)
        if body.format in ("png", "sheet"):
            img = to_pil(big[0]) if body.format == "png" and len(seeds) == 1 else None
            img = img or make_sheet(images, scale=body.scale, background=body.background)
            return Response(png_bytes(img), media_type="image/png")
        sprites = [(s, png_bytes(to_pil(im))) for s, im in zip(seeds, big, strict=True)]
        record = {
            "model": body.model,
            "step": pipe.meta.get("step"),
            "seeds": seeds,
            "traits": body.traits,
            "labels": labels.tolist() if labels is not None else None,
            "truncation": body.truncation,
            "palette": body.palette,
            "scale": body.scale,
            "repeat": body.repeat,
            "best_of": body.best_of,
        }
        if body.format == "json":
            items = [{"seed": s, "png": base64.b64encode(d).decode()} for s, d in sprites]
            return JSONResponse({**record, "sprites": items})
        request = {
            k: record[k]
            for k in ("model", "seeds", "traits", "truncation", "palette", "scale", "repeat", "best_of")
        }
        manifest = {**record, "request": {**request, "format": "png"}, "endpoint": "/api/generate"}
        sheet = png_bytes(make_sheet(images, scale=body.scale, background=body.background))
        headers = {"Content-Disposition": f'attachment; filename="{body.model}-sprites.zip"'}
        return Response(zip_bundle(sprites, sheet, manifest), media_type="application/zip", headers=headers)

    def morph(self, body: MorphBody) -> Response:
        """Frames along the latent path between two seeds, as a strip PNG or a GIF: on a StyleGAN-style run a
        straight line in W (`spritegan morph`'s frames, byte for byte), on any other `mode` in z."""
        _check_range("frames", body.frames, 2, self.limits.max_frames, "server limit max_frames")
        for s in (body.seed_a, body.seed_b):
            _check_range("seed", s, 0, MAX_SEED, "seeds are non-negative 63-bit integers")
        # every frame keeps the first seed's traits
        pipe, labels = self.common(body, [body.seed_a], body.frames)
        if pipe.is_style:
            label = labels[0] if labels is not None else None
            seeds = [body.seed_a, body.seed_b]
            images, _ = morph_frames(
                pipe, seeds, body.frames, "w", body.truncation, label=label, palette=body.palette
            )
        else:
            ends = pipe.latents([body.seed_a, body.seed_b])
            z = interpolate(ends[0], ends[1], body.frames, mode=body.mode)
            labels = labels.expand(body.frames, -1) if labels is not None else None
            images = pipe(z=z, labels=labels, truncation=body.truncation, palette=body.palette)
        if body.format == "gif":
            frames = [to_pil(im).convert("RGBA") for im in upscale(images, body.scale)]
            return Response(gif_bytes(frames), media_type="image/gif")
        strip = make_sheet(images, ncol=body.frames, scale=body.scale, background=body.background)
        return Response(png_bytes(strip), media_type="image/png")

    def edit(self, body: EditBody) -> Response:
        """One seed moved along latent directions by the given amounts: in W on a StyleGAN-style run (the
        directions `spritegan edit --find-directions` saves; the sprite equals `spritegan edit`'s), in z on
        any other."""
        _check_range("seed", body.seed, 0, MAX_SEED, "seeds are non-negative 63-bit integers")
        if not self.store.directions(body.model):
            raise StudioError(
                404,
                f"model {body.model!r} has no latent directions (RUNS_DIR/{body.model}/directions/*.safetensors)",
            )
        pipe, labels = self.common(body, [body.seed])
        for name, amount in body.directions.items():
            _check_range(
                f"amount for {name}", amount, -self.limits.max_edit, self.limits.max_edit, "max_edit"
            )
        size = pipe.generator.w_dim if pipe.is_style else pipe.z_dim
        moves = [(self.store.direction(body.model, k, size), a) for k, a in body.directions.items()]
        if pipe.is_style:
            ws = edit_ws(pipe, pipe.ws(pipe.latents([body.seed]), labels, body.truncation), moves)
            images = pipe(ws=ws, palette=body.palette)
        else:
            z = pipe.latents([body.seed])[0]
            for direction, amount in moves:
                z = z + amount * direction
            images = pipe(z=z[None], labels=labels, truncation=body.truncation, palette=body.palette)
        data = png_bytes(to_pil(upscale(images, body.scale)[0]))
        if body.format == "json":
            return JSONResponse(
                {"seed": body.seed, "directions": body.directions, "png": base64.b64encode(data).decode()}
            )
        return Response(data, media_type="image/png")


def create_app(
    runs_dir: str | Path,
    limits: Limits | None = None,
    allowed_hosts: HostAllowlist | Iterable[str] | None = None,
) -> FastAPI:
    """The studio app for the runs under `runs_dir` (each a folder with generator.safetensors).

    `allowed_hosts`: the Host headers answered (a HostAllowlist, or extra names next to loopback); by default
    only 127.0.0.1, localhost and ::1, with any port.
    """
    limits = limits or Limits()
    if not isinstance(allowed_hosts, HostAllowlist):
        allowed_hosts = HostAllowlist(extra=allowed_hosts or ())
    studio = Studio(runs_dir, limits)
    app = FastAPI(
        title="spritegan studio",
        version=__version__,
        description="Generate, morph and edit sprites from trained spritegan runs.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.studio = studio

    @app.exception_handler(StudioError)
    async def _studio_error(_: Request, exc: StudioError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:  # a bug: still one JSON line, logged
        return JSONResponse({"detail": f"internal error ({type(exc).__name__})"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = list(dict.fromkeys(_validation_message(err) for err in exc.errors()))[:5]
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/models", summary="List models with size, traits, metrics and directions")
    async def models() -> dict[str, Any]:
        names = studio.store.names()
        return {
            "models": [await run_in_threadpool(studio.store.describe, n) for n in names],
            "limits": vars(limits),
        }

    @app.get("/api/models/{name}/sheet", summary="The run's latest training sample sheet (PNG)")
    async def sheet(name: str) -> Response:
        data = await run_in_threadpool(studio.store.sheet_bytes, name)
        if data is None:
            raise StudioError(
                404, f"model {name!r} has no sample sheet (no samples/*.png inside RUNS_DIR in its run)"
            )
        return Response(data, media_type="image/png")

    @app.post("/api/generate", summary="Sprites for seeds: PNG (one sprite or sheet), JSON, or ZIP")
    async def generate(body: GenerateBody) -> Response:
        return await studio.run(studio.generate, body, studio.seeds(body))

    @app.post("/api/morph", summary="Morph between two seeds: strip PNG or GIF")
    async def morph(body: MorphBody) -> Response:
        return await studio.run(studio.morph, body)

    @app.post("/api/edit", summary="Move a seed along latent directions (when the run has them)")
    async def edit(body: EditBody) -> Response:
        return await studio.run(studio.edit, body)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit, limits=limits)
    app.add_middleware(HostCheck, allowlist=allowed_hosts)  # added last, so it runs first
    return app
