"""Screenshot the studio on real run folders (for the README): serve RUNS, pick MODEL, set traits, morph.

usage: .venv/bin/python scripts/studio_screenshot.py RUNS_DIR MODEL OUT.png [column=class ...]
Needs Debian's chromium + chromium-driver and selenium (scripts/test.sh installs them).
"""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time


def main(runs: str, model: str, out: str, traits: list[str]) -> None:
    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from spritegan.serve.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(runs), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={tempfile.mkdtemp()}",
    ):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    wait = WebDriverWait(drv, 120)

    def generation() -> int:
        return int(drv.find_element("id", "sprite-grid").get_attribute("data-generation") or 0)

    def after(action) -> None:
        gen = generation()
        action()
        wait.until(lambda d: generation() > gen)

    try:
        drv.get(f"http://127.0.0.1:{port}/")
        wait.until(lambda d: d.find_elements("css selector", "#sprite-grid figure"))
        picker = Select(drv.find_element("id", "model-select"))
        if picker.first_selected_option.get_attribute("value") != model:  # else no change, no new grid
            after(lambda: picker.select_by_value(model))
        for item in traits:
            column, _, value = item.partition("=")
            after(lambda c=column, v=value: Select(drv.find_element("id", f"trait-{c}")).select_by_value(v))
        drv.find_element("css selector", '[data-testid="sprite-1"]').click()
        drv.find_element("css selector", '[data-testid="sprite-6"]').click()
        wait.until(
            lambda d: (d.find_element("id", "morph-result").get_attribute("naturalWidth") or "0") != "0"
        )
        drv.execute_script("window.scrollTo(0, 0)")
        drv.save_screenshot(out)
    finally:
        drv.quit()
        server.should_exit = True


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
