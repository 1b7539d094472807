"""Screenshots of every studio tab, after each tab's default action, at 1440 px and 390 px wide.

    python -m tests.screenshots [--out screenshots/] [--readme] [--pair before|after] [--tabs Sentiment,...]

Starts the app (tests.app_server.AppServer) and drives Debian's Chromium with Playwright. --readme also writes
the README's images (docs/images/{sentiment,embeddings,errors}.png); --pair NAME writes docs/images/NAME-*.png of
the Sentiment, Embeddings, Behaviour and Compare tabs (a before/after record for an issue; commit them only where a
Markdown file shows them: tests/test_source.py fails on an image nothing shows). Every file written
into docs/images is a 1440-wide clip, palette-quantised so that it stays under MAX_BYTES. The app runs without
task data (offline, an empty cache), so no dataset sentence reaches an image: dev examples show as ids.
"""
from __future__ import annotations

import argparse
import io
import re
import tempfile
from pathlib import Path

from tests.app_server import ROOT, AppServer

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TABS = ["Sentiment", "Paraphrase", "Similarity", "Cross-task", "Attention", "Embeddings", "Errors & imbalance",
        "Behaviour", "Compare", "Training"]
WIDE, NARROW = (1440, 900), (390, 844)  # desktop and phone viewports (CSS pixels)
IMAGES = ROOT / "docs" / "images"
README_TABS = {"sentiment": "Sentiment", "embeddings": "Embeddings", "errors": "Errors & imbalance"}
PAIR_TABS = {"sentiment": "Sentiment", "embeddings": "Embeddings", "behaviour": "Behaviour", "compare": "Compare"}
MAX_BYTES = 300_000  # each image committed under docs/images
CLIP_HEIGHT = 1400  # px of the page kept in a docs image (from the top of the tab bar)


def slug(tab: str) -> str:
    return re.sub(r"[^a-z]+", "-", tab.lower()).strip("-")


def open_page(browser, url: str, viewport: tuple[int, int]):
    pg = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    pg.set_default_timeout(120_000)  # a loaded machine (shared CPUs) can take this long to answer a click
    pg.goto(url, wait_until="load", timeout=300_000)
    pg.get_by_role("tab", name="Sentiment", exact=True).wait_for(timeout=90_000)
    return pg


def open_tab(page, name: str):
    """Click a tab; on a narrow screen Gradio folds overflowing tabs into a '⋯' menu, opened first."""
    from playwright.sync_api import expect
    tab = page.get_by_role("tab", name=name, exact=True)
    if not tab.is_visible():
        page.locator(".overflow-menu button, button.overflow-menu").first.click()
        page.wait_for_timeout(300)
        tab = page.locator(".overflow-dropdown button", has_text=name).first
        tab.click()
        expect(page.get_by_role("tab", name=name, exact=True)).to_have_attribute("aria-selected", "true", timeout=60_000)
    else:
        tab.click()
        expect(tab).to_have_attribute("aria-selected", "true", timeout=60_000)
    page.wait_for_timeout(300)
    return page.locator("[role=tabpanel]:visible").first


def _example_and_run(page, panel, button: str):
    from playwright.sync_api import expect
    panel.locator(".gallery-item, tr.tr-body").first.click()  # one-input examples are buttons, pairs table rows
    expect(panel.locator("textarea").first).not_to_have_value("", timeout=60_000)
    page.wait_for_timeout(300)
    panel.get_by_role("button", name=button, exact=True).click()


def default_action(page, tab: str):
    """Do what a new user does first in `tab` and wait for its result; returns the tab panel."""
    panel = open_tab(page, tab)
    buttons = {"Sentiment": "Predict sentiment", "Paraphrase": "Run paraphrase", "Similarity": "Run similarity",
               "Cross-task": "Run every task", "Attention": "Show attention"}
    if tab in buttons:
        _example_and_run(page, panel, buttons[tab])
        panel.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
        if tab == "Attention":  # the head-importance maps are there before the run: wait for its four views too
            page.wait_for_function("n => [...document.querySelectorAll('.js-plotly-plot')]"
                                   ".filter(p => p.offsetParent !== null).length >= n", arg=6, timeout=120_000)
        if tab == "Sentiment":  # the attributions arrive after the probabilities
            panel.get_by_text("integrated gradients").first.wait_for(timeout=90_000)
    elif tab == "Embeddings":
        panel.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
        _example_and_run(page, panel, "Place")
        panel.get_by_text("★ marks your sentence").first.wait_for(timeout=90_000)
    elif tab == "Errors & imbalance":
        panel.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
    elif tab == "Behaviour":
        panel.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
        panel.get_by_role("button", name="Run my test").click()
        panel.get_by_text(re.compile(r"cases fail \(")).first.wait_for(timeout=90_000)
    elif tab == "Compare":
        panel.get_by_role("button", name="Compare", exact=True).click()
        panel.get_by_text("examples: A right and B wrong").first.wait_for(timeout=90_000)
    elif tab == "Training":
        panel.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
    page.wait_for_timeout(1500)  # plots settle (Plotly lays out after the data lands)
    return panel


def small_png(png: bytes, limit: int = MAX_BYTES) -> bytes:
    """Palette-quantise a screenshot (256 colours, then fewer) until it fits `limit` bytes."""
    from PIL import Image
    img = Image.open(io.BytesIO(png)).convert("RGB")
    for colours in (256, 128, 64, 32):
        buf = io.BytesIO()
        img.quantize(colours, method=Image.Quantize.MEDIANCUT).save(buf, "PNG", optimize=True)
        if buf.tell() <= limit:
            return buf.getvalue()
    raise RuntimeError(f"screenshot still over {limit} bytes at 32 colours")


def doc_image(page, path: Path) -> None:
    """A 1440-wide clip from the tab bar down (CLIP_HEIGHT px), small enough to commit."""
    top = page.locator("[role=tablist]").first.bounding_box()["y"]
    height = page.evaluate("document.documentElement.scrollHeight")
    clip = dict(x=0, y=max(top - 8, 0), width=WIDE[0], height=min(CLIP_HEIGHT, height - top + 8))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(small_png(page.screenshot(full_page=True, clip=clip)))
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1000} KB)")


def shoot(browser, url: str, out: Path, tabs: list[str], docs: dict[str, str]) -> None:
    """Every tab at both widths into `out`; at 1440 also the docs images named in `docs` (file stem -> tab)."""
    out.mkdir(parents=True, exist_ok=True)
    for viewport in (WIDE, NARROW):
        page = open_page(browser, url, viewport)
        for tab in tabs:
            default_action(page, tab)
            name = out / f"{slug(tab)}-{viewport[0]}.png"
            page.screenshot(path=str(name), full_page=True)
            print(f"wrote {name}")
            if viewport == WIDE:
                for stem in (s for s, t in docs.items() if t == tab):
                    doc_image(page, IMAGES / f"{stem}.png")
        page.close()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "screenshots"), help="folder for the per-tab screenshots")
    ap.add_argument("--readme", action="store_true", help="also write the README's images into docs/images/")
    ap.add_argument("--pair", choices=("before", "after"), default=None,
                    help="also write docs/images/NAME-{sentiment,embeddings,behaviour,compare}.png")
    ap.add_argument("--tabs", default=",".join(TABS), help="comma-separated tab names (default: all)")
    ap.add_argument("--start-timeout", type=float, default=600, help="seconds to wait for the app to start")
    a = ap.parse_args(argv)
    tabs = [t.strip() for t in a.tabs.split(",") if t.strip()]
    unknown = [t for t in tabs if t not in TABS]
    if unknown:
        ap.error(f"unknown tab(s) {unknown}; the tabs are {TABS}")
    docs = dict(README_TABS) if a.readme else {}
    if a.pair:
        docs.update({f"{a.pair}-{stem}": tab for stem, tab in PAIR_TABS.items()})
    from playwright.sync_api import sync_playwright
    # No task data for the app: the images we commit carry no dataset text (maps and tables show ids and labels).
    bare = Path(tempfile.mkdtemp(prefix="minbert-shots-"))
    with AppServer(timeout=a.start_timeout, cwd=bare, drop_env=("MINBERT_DATA",),
                   extra_env={"MINBERT_OFFLINE": "1", "XDG_CACHE_HOME": str(bare / "cache")}) as server, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            shoot(browser, server.url, Path(a.out), tabs, docs)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
