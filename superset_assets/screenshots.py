"""Open dashboards in headless Chromium as a given user, wait for every chart, save PNGs and
report what the page shows (error alerts, chart count, whether the image is blank).

    .venv-superset/bin/python -m superset_assets.screenshots --base-url http://127.0.0.1:8088 \
        --user auditor --password demo --out var/artifacts/screenshots fund-overview rankings

Drives Debian's chromium (CHROMIUM_BIN, default /usr/bin/chromium) through Playwright's Python package
(executable_path; `playwright install` is never needed). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageStat
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from superset_assets.settings import settings

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# What Superset renders when a chart or the page fails.
ERROR_SELECTORS = [".ant-alert-error", ".alert-danger", "[data-test='error-tooltip']", ".error-alert",
                   "[data-test='chart-error']"]
# Superset's own failure messages (not words that evidence text in a table might contain).
ERROR_TEXTS = ["Unexpected error", "There was an error", "Page not found", "发生意外错误", "页面未找到"]


def login(page: Page, base: str, user: str, password: str, attempts: int = 3) -> None:
    """Log in through the login form. Superset's login page is a React app: on a busy machine the form
    can re-render after the first paint and drop what was typed, so the values are checked before
    submitting and a submit that leaves the browser on /login is retried on a fresh page."""
    for attempt in range(1, attempts + 1):
        page.goto(f"{base}/login/", wait_until="load")
        name = page.locator("input#username, input[name='username']").first
        secret = page.locator("input#password, input[name='password']").first
        name.wait_for(state="visible", timeout=60_000)
        name.fill(user)
        secret.fill(password)
        if name.input_value() != user or secret.input_value() != password:
            continue  # re-rendered while typing
        secret.press("Enter")
        try:
            page.wait_for_url(lambda url: "/login" not in url, timeout=40_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts:
                raise
    raise PlaywrightTimeout(f"could not log in as {user} in {attempts} attempts")


def _wait_for_charts(page: Page, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    try:
        page.wait_for_selector("[data-test='chart-grid-component']", timeout=int(timeout_s * 1000))
    except PlaywrightTimeout:
        return 0  # no dashboard rendered (refused, or not found)
    while time.monotonic() < deadline:
        state = page.evaluate(
            """() => {
                // markdown blocks are chart holders too: count real charts only
                const holders = [...document.querySelectorAll('[data-test="chart-grid-component"]')];
                const loading = document.querySelectorAll('.loading, [aria-label="Loading"], .ant-skeleton').length;
                const rendered = holders.filter(h => h.querySelector(
                    'canvas, svg, table, .superset-legacy-chart-big-number, .big_number, .header-line, '
                    + '.ant-alert, [data-test="empty-state"], .empty-state')).length;
                return {holders: holders.length, loading, rendered};
            }"""
        )
        if state["loading"] == 0 and state["rendered"] >= state["holders"] > 0:
            page.wait_for_timeout(1500)  # echarts animations
            return int(state["holders"])
        page.wait_for_timeout(500)
    return -1


def _errors(page: Page) -> list[str]:
    found = []
    for sel in ERROR_SELECTORS:
        for el in page.locator(sel).all():
            if el.is_visible():
                found.append(f"{sel}: {el.inner_text()[:200]}")
    body = page.locator("body").inner_text()
    found += [f"text: {t}" for t in ERROR_TEXTS if t in body]
    return found


def image_stats(path: Path) -> dict[str, Any]:
    img = Image.open(path).convert("RGB")
    small = img.resize((200, max(1, 200 * img.height // img.width)))
    colors = small.getcolors(maxcolors=1 << 16) or []
    stddev = sum(ImageStat.Stat(img.convert("L")).stddev) if img else 0.0
    return {"width": img.width, "height": img.height, "distinct_colors": len(colors), "stddev": round(stddev, 2)}


def shoot(base: str, user: str, password: str, slugs: list[str], out: Path, timeout_s: float) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="mfm-chromium-"))
    results = []
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(profile), executable_path=settings().chromium_bin, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1600, "height": 1400}, locale="zh-CN")
            page = context.new_page()
            login(page, base, user, password)
            for slug in slugs:
                started = time.monotonic()
                page.goto(f"{base}/superset/dashboard/{slug}/", wait_until="domcontentloaded")
                charts = _wait_for_charts(page, timeout_s)
                seconds = round(time.monotonic() - started, 1)
                path = out / f"{user}-{slug}.png"
                page.screenshot(path=str(path), full_page=True)
                results.append({"slug": slug, "user": user, "png": str(path), "charts": charts,
                                "errors": _errors(page), "url": page.url, "seconds": seconds,
                                **image_stats(path)})
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", type=Path, default=settings().screenshot_dir)
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("slugs", nargs="+")
    args = parser.parse_args()
    results = shoot(args.base_url.rstrip("/"), args.user, args.password, args.slugs, args.out, args.timeout)
    print(json.dumps(results, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
