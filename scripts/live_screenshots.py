"""Take the screenshots of docs/live.md from a running dashboard, one per panel.

    streamlab live --root /tmp/live-docs --duration 3m --case state &
    python scripts/live_screenshots.py http://127.0.0.1:8765/ docs/live

Needs Playwright for Python and a Chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

PANELS = ("warnings", "time", "windows", "state", "join", "rates", "verdict")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main(url: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1500})
        page.goto(url)
        page.wait_for_function("+document.body.dataset.version > 1", timeout=60_000)
        page.screenshot(path=str(out / "page.png"), full_page=True)
        page.locator("header").screenshot(path=str(out / "header.png"))
        for name in PANELS:
            page.locator(f"#panel-{name}").screenshot(path=str(out / f"{name}.png"))
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
