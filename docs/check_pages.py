"""Check the built docs as a reader sees them, in headless Chromium at 1280 x 900 px:

- every image on the gallery index and on two example pages has loaded, and each example
  page shows at least one figure;
- on every page, no code block (``pre``) and no table is wider than its column: neither
  the element nor its container scrolls (``scrollWidth > clientWidth``), and neither
  reaches past the right edge of the page's article.

Run after the build: ``.venv/bin/python docs/check_pages.py [docs/_build/html]``. Needs
Playwright's Python package (the ``docs`` extra) and a Chromium: Debian's ``chromium``
package (``apt-get install -y chromium``) at ``/usr/bin/chromium``, or ``$CHROMIUM``.
Exits 1 naming every problem: the page, and the element by its kind, position and first
words.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys

from playwright.sync_api import Page, sync_playwright

VIEWPORT = {"width": 1280, "height": 900}
FIGURE_PAGES = {  # page: the least number of figures (sphinx-gallery's rendered images) on it
    "auto_examples/index.html": 0,
    "auto_examples/plot_overviews.html": 1,
    "auto_examples/plot_object_store.html": 1,
}
SKIPPED = {"genindex.html", "search.html", "py-modindex.html"}  # Sphinx's own, no content
IMAGES = """() => Array.from(document.images, img => ({
    src: img.getAttribute("src"),
    loaded: img.complete && img.naturalWidth > 0,
    figure: img.classList.contains("sphx-glr-single-img")
        || img.classList.contains("sphx-glr-multi-img"),
}))"""
# Each pre and table of the article: wider than itself (it scrolls), than its container
# (which scrolls, or which it spills out of), or past the article's right edge. One pixel
# of slack for sub-pixel rounding.
OVERFLOWS = """() => {
    const article = document.querySelector("article.bd-article, div.body, main") || document.body;
    const right = article.getBoundingClientRect().right;
    const found = [];
    const elements = article.querySelectorAll("pre, table");
    elements.forEach((element, index) => {
        const kind = element.tagName.toLowerCase();
        const container = element.parentElement;
        const why = [];
        if (element.scrollWidth > element.clientWidth + 1)
            why.push(`${kind} scrolls: ${element.scrollWidth} > ${element.clientWidth} px`);
        if (container.scrollWidth > container.clientWidth + 1)
            why.push(`its container scrolls: ${container.scrollWidth} > ${container.clientWidth} px`);
        const edge = element.getBoundingClientRect().right;
        if (edge > right + 1)
            why.push(`ends ${Math.round(edge - right)} px past the article`);
        if (why.length) {
            const nth = Array.from(article.querySelectorAll(kind)).indexOf(element) + 1;
            const text = element.innerText.trim().replace(/\\s+/g, " ").slice(0, 60);
            found.push(`${kind} #${nth} ("${text}"): ${why.join("; ")}`);
        }
    });
    return found;
}"""


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not found:
        sys.exit("no Chromium: apt-get install -y chromium, or set CHROMIUM")
    return found


def check_figures(page: Page, build: pathlib.Path) -> list[str]:
    """Every image of FIGURE_PAGES loaded, and enough figures on each."""
    problems = []
    for name, least in FIGURE_PAGES.items():
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
    return problems


def check_widths(page: Page, build: pathlib.Path) -> list[str]:
    """No pre or table of any page overflows its column."""
    problems = []
    pages = sorted(path for path in build.rglob("*.html")
                   if "_static" not in path.parts and "_sources" not in path.parts
                   and path.relative_to(build).as_posix() not in SKIPPED)
    for path in pages:
        page.goto(path.resolve().as_uri(), wait_until="load")
        name = path.relative_to(build).as_posix()
        problems += [f"{name}: {overflow}" for overflow in page.evaluate(OVERFLOWS)]
    print(f"{len(pages)} pages: code blocks and tables checked at {VIEWPORT['width']} px")
    return problems


def check(build: pathlib.Path) -> list[str]:
    """The problems found on the pages, empty if none."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        problems = check_figures(page, build) + check_widths(page, build)
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
