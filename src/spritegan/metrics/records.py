"""One JSONL record format for every evaluation: `train --eval-every` (RUN/eval.jsonl) and `spritegan eval`
(RUN/metrics.jsonl) append the same shape, and the studio and `spritegan curves` read it through here.

A record is `metrics.evaluate.evaluate`'s result (n_fake, n_real, seed, extractor, fid_label, "metrics":
{name: value}, real_floor, timings_s, ...) plus "record" (the format), "time" and what names the
evaluation (step and images for training; run and real for `spritegan eval`). Files written before this
format (training's flat {"step", "samples", "real", "fid", "kid"} lines) are read as records too.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

RECORD_FORMAT = "spritegan-eval-1"
SHORT_NAMES = {"kid": "kid_mean"}  # names the curves and the old training records use


def make_record(result: dict[str, Any], **context: Any) -> dict[str, Any]:
    """An evaluation result as a record: the format, the time and `context` (step, images, run...)."""
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return {"record": RECORD_FORMAT, "time": now, **result, **context}


def append_record(path: str | Path, record: dict[str, Any]) -> None:
    """Append one record as a JSON line (keys sorted)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")


def normalize(raw: dict[str, Any]) -> dict[str, Any]:
    """A record in the current format; an old flat training line is moved into it."""
    if isinstance(raw.get("metrics"), dict):
        return raw
    record = {k: v for k, v in raw.items() if k not in ("fid", "kid", "samples", "real")}
    record["metrics"] = {SHORT_NAMES.get(k, k): raw[k] for k in ("fid", "kid") if k in raw}
    if "samples" in raw:
        record["n_fake"] = raw["samples"]
    if "real" in raw:
        record["n_real"] = raw["real"]
    return record


def parse_line(line: str) -> dict[str, Any]:
    """One JSON line as a record; ValueError when it is not an object."""
    raw = json.loads(line)
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    return normalize(raw)


def read_records(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for every non-blank line; a bad line raises ValueError naming it."""
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                out.append((number, parse_line(line)))
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from exc
    return out


def value(record: dict[str, Any], name: str) -> Any:
    """A metric's value in a record ('kid' is KID's mean); None when the record has none."""
    metrics = record.get("metrics") or {}
    return metrics.get(SHORT_NAMES.get(name, name))


def scalars(record: dict[str, Any]) -> dict[str, Any]:
    """The record's top-level numbers and strings with its metrics merged in (for display)."""
    flat = {**record, **(record.get("metrics") or {})}
    return {k: v for k, v in flat.items() if isinstance(v, int | float | str) and not isinstance(v, bool)}
