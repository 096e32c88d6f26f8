"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by selenium,
and the console served by a real WSGI server in a thread of the test process.

Locally a machine without the browser skips the browser tests with a message saying what to
install; under ``CI=true`` that is a failure (``.ci/run`` installs both packages).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("CLEANROOM_ARTEFACTS_DIR", REPO / "tmp" / "artefacts"))
WINDOW = (1280, 860)  # a laptop screen


def browser_paths() -> tuple[str, str]:
    """(chromium binary, chromedriver), or skip (fail under CI) when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    message = (
        "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the browser tests cannot run: {message}")
    pytest.skip(message)


@contextmanager
def chromium(downloads: Path) -> Iterator[Any]:
    """A headless Chromium session; downloads go to ``downloads``."""
    pytest.importorskip("selenium", reason="pip install -e '.[dev]' installs selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", f"--window-size={WINDOW[0]},{WINDOW[1]}"):  # fmt: skip
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """``app`` on a free loopback port (werkzeug's threaded server); its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="console-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def screenshot(driver: Any, name: str) -> Path:
    """The whole page as ``<artefacts>/console/<name>.png``."""
    folder = ARTEFACTS / "console"
    folder.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(WINDOW[0], max(WINDOW[1], min(int(height) + 40, 4000)))
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(*WINDOW)
    return path
