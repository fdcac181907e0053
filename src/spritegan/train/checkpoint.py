"""Resume checkpoints as safetensors files, written atomically through `spritegan.storage`.

A checkpoint (`checkpoints/step-NNNNNN.safetensors`) holds G, G_ema, D, both optimizers' state, the RNG
states and the step, so `--resume` continues the same curve. The shareable `generator.safetensors` (G_ema
with the model config and the data manifest) is `spritegan.storage`'s. Nothing here ever unpickles a file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import warnings
from pathlib import Path
from typing import Any

import torch

from spritegan.errors import RunError
from spritegan.storage import read_tensors, save_tensors

CHECKPOINT_FORMAT = "spritegan-checkpoint-1"
_STEP_RE = re.compile(r"step-(\d+)\.safetensors$")
FAULT_ENV = "SPRITEGAN_FAULT"  # tests only: "after-temp-write:STEP" or "after-step:STEP" kills the process


def fault_point(point: str, step: int) -> None:
    """Deterministic fault injection for the kill -9 tests: SIGKILL this process when $SPRITEGAN_FAULT names
    `point` at `step` (e.g. after-temp-write:4: a checkpoint's temp file is written, the rename not done)."""
    spec = os.environ.get(FAULT_ENV, "")
    if spec and spec == f"{point}:{step}":
        os.kill(os.getpid(), signal.SIGKILL)


def _flatten_optimizer(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], str]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, json.dumps({"param_groups": sd["param_groups"], "scalars": scalars})


def _unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], meta: str) -> dict[str, Any]:
    info = json.loads(meta)
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            idx, key = name[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(idx), {})[key] = value
    for idx, extra in info["scalars"].items():
        state.setdefault(int(idx), {}).update(extra)
    return {"state": state, "param_groups": info["param_groups"]}


def save_checkpoint(
    path: Path,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    rng: dict[str, torch.Tensor],
    extra: dict[str, torch.Tensor],
    info: dict[str, Any],
) -> None:
    """Save modules (G, G_ema, D), optimizers, RNG states and JSON-able `info` (step, config...)."""
    tensors: dict[str, torch.Tensor] = {}
    metadata = {"format": CHECKPOINT_FORMAT, "info": json.dumps(info)}
    for name, module in modules.items():
        tensors.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
    for name, opt in optimizers.items():
        opt_tensors, opt_meta = _flatten_optimizer(f"opt_{name}", opt)
        tensors.update(opt_tensors)
        metadata[f"opt_{name}"] = opt_meta
    tensors.update({f"rng.{k}": v for k, v in rng.items()})
    tensors.update({f"extra.{k}": v for k, v in extra.items()})
    step = int(info.get("step", -1))
    save_tensors(path, tensors, metadata, before_rename=lambda: fault_point("after-temp-write", step))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint into {'modules': {name: state_dict}, 'optimizers', 'rng', 'extra', 'info'}."""
    tensors, metadata = read_tensors(path)
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise RunError(f"{path}: not a spritegan checkpoint (format {metadata.get('format')!r})")
    out: dict[str, Any] = {"modules": {}, "optimizers": {}, "rng": {}, "extra": {}}
    out["info"] = json.loads(metadata["info"])
    for key, meta in metadata.items():
        if key.startswith("opt_"):
            out["optimizers"][key[4:]] = _unflatten_optimizer(key, tensors, meta)
    for name, value in tensors.items():
        head, _, rest = name.partition(".")
        if head == "rng":
            out["rng"][rest] = value
        elif head == "extra":
            out["extra"][rest] = value
        elif not head.startswith("opt_"):
            out["modules"].setdefault(head, {})[rest] = value
    return out


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint in `folder`, newest first."""
    found = []
    for p in folder.glob("step-*.safetensors"):
        m = _STEP_RE.search(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found, reverse=True)


def load_latest(folder: Path, strict: bool = False) -> dict[str, Any] | None:
    """Newest checkpoint that loads; a damaged newer one is reported and skipped, never deleted.

    None when none loads; with `strict` (resuming), a RunError when the folder holds checkpoints and none
    of them loads, so the caller never starts over from step 0 on top of them.
    """
    found = list_checkpoints(folder)
    for _, path in found:
        try:
            return load_checkpoint(path)
        except (RunError, KeyError, json.JSONDecodeError) as exc:
            warnings.warn(f"skipping damaged checkpoint {path.name}: {exc}", stacklevel=2)
    if found and strict:
        raise RunError(
            f"{folder}: all {len(found)} checkpoints are damaged, so the run cannot resume; nothing was "
            "changed (train a new run with --out, or start this one over with --out RUN --overwrite)"
        )
    return None


# `.NAME.tmp-PID` from storage.atomic_write, and `.tmpXXXXXX` from safetensors' own writer (it writes to a
# temporary file beside its target and renames it), either left behind by a process killed mid-write
_ORPHAN = re.compile(r"^\..+\.tmp-\d+$|^\.tmp[A-Za-z0-9]{6}$")


def remove_orphan_temps(run_dir: Path) -> list[Path]:
    """Delete the temporary files a killed writer left in a run folder and its checkpoints/."""
    removed = []
    for folder in (run_dir, run_dir / "checkpoints"):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and _ORPHAN.match(path.name):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def prune_checkpoints(folder: Path, keep: int) -> None:
    if keep < 1:
        raise RunError(f"train.keep_checkpoints must be at least 1, got {keep}")
    for _, path in list_checkpoints(folder)[keep:]:
        path.unlink(missing_ok=True)
