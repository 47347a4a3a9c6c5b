"""The page at phone and desktop widths: no sideways scrolling, all buttons click, panels keep their size."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.contract_images import side_by_side
from tests.web.helpers import assert_fits_and_every_button_clicks, files_for
from tests.web.test_web_dedup_cluster_detect import BLUE, RED, _fill_collection


def test_empty_page_fits_and_every_button_clicks(sized_page: Page, server_url: str) -> None:
    failed: list[str] = []
    sized_page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    sized_page.goto(server_url)
    expect(sized_page.locator("#collections-empty")).to_be_visible()
    assert_fits_and_every_button_clicks(sized_page)
    assert failed == []  # the favicon too


def test_full_page_fits_and_short_panels_do_not_stretch(
    sized_page: Page, server_url: str, shape_images: dict[str, list[bytes]]
) -> None:
    _fill_collection(server_url, shape_images)
    page = sized_page
    page.goto(server_url)
    page.set_input_files("#embed-file", files_for(shape_images, RED)[:1])
    expect(page.locator("#embed-norm")).to_have_text("1.000")
    page.set_input_files("#compare-file", files_for(shape_images, BLUE)[:1])
    page.click("#compare-run")
    expect(page.locator("#compare-result .bar")).to_have_count(4)
    page.fill("#search-text", "a red circle")
    page.click("#search-run")
    expect(page.locator("#search-results .card")).to_have_count(6)
    page.select_option("#analysis-collection", "shapes")
    page.select_option("#dedup-method", "phash")
    page.click("#dedup-run")
    expect(page.locator("#dedup-result .sheet")).to_have_count(1)
    page.fill("#cluster-k", "4")
    page.click("#cluster-run")
    expect(page.locator("#cluster-sheets .sheet[data-cluster]")).to_have_count(4)
    # The map has axes and a legend naming each cluster's colour.
    expect(page.locator("#cluster-map line.axis")).to_have_count(2)
    expect(page.locator("#cluster-legend li")).to_have_count(4)
    legend = page.locator("#cluster-legend .swatch").evaluate_all(
        "ss => ss.map(s => getComputedStyle(s).backgroundColor)"
    )
    assert len(set(legend)) == 4
    picture, _, _ = side_by_side(shape_images[RED][0], shape_images[BLUE][0])
    page.set_input_files("#detect-file", {"name": "two.png", "mimeType": "image/png", "buffer": picture})
    page.click("#detect-run")
    expect(page.locator("#detect-canvas")).to_be_visible()

    assert_fits_and_every_button_clicks(page)
    # The posted set's file picker sits on the "a posted set" line, not under "a collection".
    assert page.locator(".row:has(input[value=posted]) #search-set").count() == 1
    assert page.locator(".row:has(input[value=collection]) #search-set").count() == 0
    # A file name in a card breaks at its underscores, never inside a word.
    card = page.locator("#search-results .card .id").first
    words = card.evaluate(
        "n => [...n.childNodes].filter(c => c.nodeType === 3).map(t => {"
        " const r = document.createRange(); r.selectNodeContents(t);"
        " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; })"
    )
    assert all(w == 1 for w in words), words  # each piece between break points sits on one line
    # The detect panel beside the tall clusters keeps its own height (it used to stretch to the row).
    detect = page.locator("#detect-panel").bounding_box()
    analysis = page.locator("#analysis-panel").bounding_box()
    assert detect is not None and analysis is not None
    content = page.locator("#detect-panel").evaluate(
        "p => [...p.children].filter(c => !c.hidden)"
        ".reduce((sum, c) => sum + c.getBoundingClientRect().height, 0)"
    )
    assert detect["height"] < content + 120, (detect["height"], content)
    assert analysis["height"] > detect["height"]
