#!/usr/bin/env bash
# Run the whole test suite: fast and slow tests, then the browser tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) \
      || echo "could not install chromium; browser tests will be skipped"
  fi
fi
if ! command -v ffmpeg >/dev/null && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  (apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null 2>&1 \
    || (apt-get update -qq && apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null)) \
    || echo "could not install ffmpeg; the MP4 morph test will be skipped"
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
.venv/bin/python -m pytest -q -m "not browser" "$@"
.venv/bin/python -m pytest -q -m browser "$@"
