"""Check the built docs as a reader sees them: open the gallery index and two example pages
in headless Chromium and require every image on them to have loaded.

Run after the build: ``.venv/bin/python docs/check_pages.py [docs/_build/html]``. Needs
Playwright's Python package (the ``docs`` extra) and a Chromium: Debian's ``chromium``
package (``apt-get install -y chromium``) at ``/usr/bin/chromium``, or ``$CHROMIUM``.
Exits 1 naming every image that did not load, or every page that has no figure.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys

from playwright.sync_api import sync_playwright

PAGES = {  # page: the least number of figures (sphinx-gallery's rendered images) on it
    "auto_examples/index.html": 0,
    "auto_examples/plot_overviews.html": 1,
    "auto_examples/plot_object_store.html": 1,
}
IMAGES = """() => Array.from(document.images, img => ({
    src: img.getAttribute("src"),
    loaded: img.complete && img.naturalWidth > 0,
    figure: img.classList.contains("sphx-glr-single-img")
        || img.classList.contains("sphx-glr-multi-img"),
}))"""


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not found:
        sys.exit("no Chromium: apt-get install -y chromium, or set CHROMIUM")
    return found


def check(build: pathlib.Path) -> list[str]:
    """The problems found on the pages, empty if none."""
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for name, least in PAGES.items():
            path = build / name
            if not path.is_file():
                problems.append(f"{name}: not built")
                continue
            page.goto(path.resolve().as_uri(), wait_until="load")
            images = page.evaluate(IMAGES)
            broken = [image["src"] for image in images if not image["loaded"]]
            figures = sum(image["figure"] for image in images)
            problems += [f"{name}: image {src} did not load" for src in broken]
            if not images:
                problems.append(f"{name}: no images")
            if figures < least:
                problems.append(f"{name}: {figures} figures, expected at least {least}")
            print(f"{name}: {len(images) - len(broken)} of {len(images)} images loaded "
                  f"({figures} figures)")
        browser.close()
    return problems


def main() -> None:
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "docs/_build/html")
    problems = check(build)
    for problem in problems:
        print("FAIL", problem, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
