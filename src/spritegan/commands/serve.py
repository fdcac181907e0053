"""`spritegan serve`: the sprite studio (web page + JSON API) over a folder of runs, on loopback by default."""

from __future__ import annotations

import argparse

from spritegan.commands import add_command

EXAMPLES = """  spritegan serve runs                      # then open http://127.0.0.1:8000
  spritegan serve runs --port 8080 --max-count 64
  spritegan serve runs --host 0.0.0.0       # expose on the network (no authentication!)
  spritegan serve runs --host 0.0.0.0 --allow-host studio.lan   # answer requests for that name too
"""


def register(subparsers) -> None:
    """Add the `serve` subcommand."""
    p = add_command(
        subparsers, "serve", "Run the sprite studio: web page and JSON API over RUNS_DIR.", EXAMPLES
    )
    p.add_argument(
        "runs_dir", metavar="RUNS_DIR", help="folder whose sub-folders are runs (generator.safetensors)"
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--max-count", type=int, default=256, help="sprites per request (default 256)")
    p.add_argument("--max-scale", type=int, default=16, help="upscale factor (default 16)")
    p.add_argument("--max-frames", type=int, default=64, help="morph frames (default 64)")
    p.add_argument("--max-pixels", type=int, default=16_000_000, help="pixels in one response (default 16M)")
    p.add_argument("--max-body", type=int, default=65536, help="request body bytes (default 65536)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per generation request (default 30)")
    p.add_argument("--cache", type=int, default=4, help="models kept loaded, LRU (default 4)")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host header is NAME (repeatable; '*' turns the check off). "
        "Always answered: 127.0.0.1, localhost, ::1 and the --host address; any IP address when --host is "
        "0.0.0.0 or ::",
    )
    p.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a connection may take to send a request's headers before it is closed (default 10)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start uvicorn with the studio app."""
    import math
    from pathlib import Path

    from spritegan.errors import SpriteganError

    try:
        from spritegan.serve.app import create_app
        from spritegan.serve.guard import HostAllowlist, studio_server
        from spritegan.serve.studio import Limits
    except ImportError as exc:
        raise SpriteganError(
            f"the studio needs the serve extra: pip install 'spritegan[serve]' ({exc})"
        ) from exc
    runs = Path(args.runs_dir)
    if not runs.is_dir():
        raise SpriteganError(f"{runs}: not a folder (give the folder that holds your run folders)")
    if not 0 < args.port < 65536:
        raise SpriteganError(f"--port {args.port}: choose 1 to 65535")
    for name in ("max_count", "max_scale", "max_frames", "max_pixels", "max_body", "cache"):
        if getattr(args, name) < 1:
            raise SpriteganError(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("timeout", "header_timeout"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise SpriteganError(f"--{name.replace('_', '-')} {value}: give a number of seconds above 0")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    limits = Limits(
        max_count=args.max_count,
        max_scale=args.max_scale,
        max_frames=args.max_frames,
        max_output_pixels=args.max_pixels,
        max_body_bytes=args.max_body,
        timeout_s=args.timeout,
        cache_size=args.cache,
    )
    hosts = HostAllowlist(args.host, args.allow_host)
    app = create_app(runs, limits, hosts)
    names = app.state.studio.store.names()
    print(f"spritegan studio: {len(names)} model(s) in {runs}: {', '.join(names) or 'none yet'}")
    print(f"open http://{args.host}:{args.port}/  (API schema: /openapi.json)")
    print(f"answering Host headers: {hosts.describe()}")
    studio_server(app, args.host, args.port, header_timeout_s=args.header_timeout).run()
    return 0
