"""The studio page in headless Chromium (Selenium): load, pick model, generate, trait, morph, download.

Needs Debian's `chromium` and `chromium-driver` and the `selenium` package; skipped with a reason otherwise.
Saves a screenshot to docs/img/studio.png.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio_fixtures import make_runs

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The screenshot goes to $SPRITEGAN_SCREENSHOT when set (to refresh docs/img/studio.png), else a temp file.
SCREENSHOT_ENV = "SPRITEGAN_SCREENSHOT"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium missing (apt-get install chromium)"),
    pytest.mark.skipif(
        not CHROMEDRIVER.exists(), reason="/usr/bin/chromedriver missing (apt-get install chromium-driver)"
    ),
]
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install selenium)")


def _walkers_with_reader(run: Path) -> None:
    """A tiny posed run on builtin:walkers with a trained sheet reader (a few seconds): the best-of control."""
    from spritegan.cli import main

    sets = [
        "model.arch=posed",
        "model.cond_mode=cbn",
        "model.g_width=8",
        "model.d_width=8",
        "train.threads=1",
        "model.palette_reader=8",
        "train.reader_mpix=0.5",
    ]
    args = ["train", "--data", "builtin:walkers:8", "--batch-size", "4", "--steps", "2", "--no-progress"]
    assert main([*args, "--out", str(run), *[x for kv in sets for x in ("--set", kv)]]) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.set_num_threads(1)
    folder = make_runs(tmp_path_factory.mktemp("browser"))
    _walkers_with_reader(folder / "walkers")
    return folder


@pytest.fixture(scope="module")
def server(runs: Path) -> Iterator[str]:
    import uvicorn

    from spritegan.serve.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(runs), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chrome-profile')}",
    ):
        opts.add_argument(arg)
    opts.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    drv.downloads = downloads
    yield drv
    drv.quit()


def _wait(drv: object, condition, what: str, timeout: float = 30.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(drv, timeout).until(lambda d: condition(d), message=f"timed out waiting for {what}")


def _generation(drv) -> int:
    return int(drv.find_element("id", "sprite-grid").get_attribute("data-generation") or 0)


def test_studio_flow(server: str, driver, tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import Select

    drv = driver
    drv.get(server + "/")
    _wait(drv, lambda d: len(d.find_elements("css selector", "#sprite-grid figure")) == 32, "first grid")
    assert (
        "fid" in drv.find_element("id", "model-info").text.lower()
        or drv.find_element("id", "model-info").text
    )

    gen = _generation(drv)
    Select(drv.find_element("id", "model-select")).select_by_value("plain")
    _wait(drv, lambda d: _generation(d) > gen, "grid for model plain")
    assert "123.40" in drv.find_element("css selector", '[data-testid="info-fid"]').text
    _wait(
        drv,
        lambda d: d.find_element("id", "model-sheet").get_attribute("naturalWidth") not in (None, "0"),
        "sheet",
    )

    gen = _generation(drv)
    Select(drv.find_element("id", "model-select")).select_by_value("cond")
    _wait(drv, lambda d: _generation(d) > gen, "grid for model cond")
    assert drv.find_element("id", "traits").is_displayed()
    before = drv.find_element("css selector", '[data-testid="sprite-0"] img').get_attribute("src")

    gen = _generation(drv)
    Select(drv.find_element("id", "trait-type")).select_by_value("zombie")
    _wait(drv, lambda d: _generation(d) > gen, "grid after trait change")
    after = drv.find_element("css selector", '[data-testid="sprite-0"] img').get_attribute("src")
    assert after != before

    gen = _generation(drv)
    Select(drv.find_element("id", "trait-hat")).select_by_value("0")  # a zombie without the data's hat
    _wait(drv, lambda d: _generation(d) > gen, "grid after binary trait")
    assert drv.find_element("css selector", '[data-testid="sprite-0"] img').get_attribute("src") != after

    drv.find_element("css selector", '[data-testid="sprite-3"]').click()
    drv.find_element("css selector", '[data-testid="sprite-7"]').click()
    _wait(
        drv,
        lambda d: (d.find_element("id", "morph-result").get_attribute("naturalWidth") or "0") != "0",
        "morph",
    )
    assert (
        "3" in drv.find_element("id", "morph-pair").text and "7" in drv.find_element("id", "morph-pair").text
    )

    drv.find_element("id", "download-png").click()
    _wait(drv, lambda d: d.find_element("id", "status").get_attribute("data-last-download"), "download")
    assert drv.find_element("id", "status").get_attribute("data-last-download").startswith("image/png ")
    saved = _wait(drv, lambda d: list(Path(d.downloads).glob("*.png")), "downloaded file", timeout=15)
    assert saved[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "error" not in (drv.find_element("id", "status").get_attribute("class") or "")

    drv.execute_script("window.scrollTo(0, 0)")
    shot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "studio.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    drv.save_screenshot(str(shot))
    assert shot.stat().st_size > 1000


def test_studio_best_of_shows_for_a_run_with_a_reader_and_draws_the_pipelines_sprites(
    server: str, driver, runs: Path
) -> None:
    import base64
    import io

    import numpy as np
    from PIL import Image
    from selenium.webdriver.support.ui import Select

    from spritegan.generate.pipeline import SpritePipeline

    drv = driver
    drv.get(server + "/")
    _wait(drv, lambda d: len(d.find_elements("css selector", "#sprite-grid figure")) > 0, "first grid")
    gen = _generation(drv)
    Select(drv.find_element("id", "model-select")).select_by_value("plain")
    _wait(drv, lambda d: _generation(d) > gen, "grid for model plain")
    assert not drv.find_element("id", "best-row").is_displayed()  # nothing to rank by
    gen = _generation(drv)
    Select(drv.find_element("id", "model-select")).select_by_value("walkers")
    _wait(drv, lambda d: _generation(d) > gen, "grid for model walkers")
    assert drv.find_element("id", "best-row").is_displayed()
    gen = _generation(drv)
    Select(drv.find_element("id", "best-of")).select_by_value("4")
    _wait(drv, lambda d: _generation(d) > gen, "grid after best of 4")
    src = drv.find_element("css selector", '[data-testid="sprite-0"] img').get_attribute("src")
    shown = np.array(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))
    assert "error" not in (drv.find_element("id", "status").get_attribute("class") or "")
    want = SpritePipeline.from_run(runs / "walkers", best_of=4)([0], output_type="np")[0]
    assert np.array_equal(shown, want)
