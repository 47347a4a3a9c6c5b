"""Each panel's empty, loading, error and result states; /docs offline; picking the same file twice."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image
from playwright.sync_api import Page, Route, expect

from pixembed import Client
from tests.helpers import encode
from tests.web.helpers import TINY_CLASSES, assert_fits_and_every_button_clicks, files_for

RED, BLUE = "a red circle", "a blue square"
PLAIN = encode(Image.new("RGB", (160, 160), (128, 128, 128)))
NOT_AN_IMAGE = {"name": "notes.png", "mimeType": "image/png", "buffer": b"plain text"}


@pytest.fixture
def page(sized_page: Page) -> Page:
    """Every state here is checked on a phone (390 px) and on a desktop (1280 px)."""
    return sized_page


def _while_held(page: Page, pattern: str, start: Callable[[], None], panel: str) -> None:
    """Hold the request ``start`` sends to ``pattern``: the panel says it is working until it is answered."""
    held: list[Route] = []
    page.route(pattern, lambda route: held.append(route))  # noqa: PLW0108 (Playwright wraps the handler: a builtin cannot be)
    start()
    expect(page.locator(panel)).to_have_attribute("aria-busy", "true")
    assert page.locator(f"{panel} button").evaluate_all("bs => bs.every(b => b.disabled)")
    page.wait_for_timeout(50)
    assert held, f"no request to {pattern} was sent"
    held[0].continue_()
    page.unroute(pattern)
    expect(page.locator(panel)).not_to_have_attribute("aria-busy", "true")


def test_empty_states_say_what_to_do(
    page: Page, server_url: str, shape_images: dict[str, list[bytes]]
) -> None:
    page.goto(server_url)
    expect(page.locator("#collections-empty")).to_have_text(
        "No collections yet: type a name above and press Create."
    )
    expect(page.locator("#collections-table")).to_be_hidden()
    for select in ("#add-collection", "#search-collection", "#analysis-collection"):
        expect(page.locator(select)).to_be_disabled()
        expect(page.locator(f"{select} option")).to_have_text(["no collections yet"])
    page.click("#search-run")
    expect(page.locator("#search-panel .error")).to_have_text(
        "give a text query or a query image (one of them)"
    )
    page.fill("#search-text", RED)
    page.click("#search-run")
    expect(page.locator("#search-panel .error")).to_have_text("create or pick a collection first")

    page.fill("#collection-name", "empty")
    page.click("#collection-create")
    expect(page.locator("#collections-empty")).to_be_hidden()
    expect(page.locator("#search-collection")).to_be_enabled()
    page.click("#search-run")
    expect(page.locator("#search-empty")).to_have_text(
        'Nothing found: the collection "empty" has no items yet. Add images to it under Collections.'
    )
    expect(page.locator("#search-results .card")).to_have_count(0)
    page.select_option("#analysis-collection", "empty")
    page.click("#dedup-run")
    expect(page.locator("#analysis-panel .error")).to_contain_text("is empty: there is nothing to compare")

    # The tiny model knows no fashion: Detect starts with its shapes and says so.
    expect(page.locator("#detect-classes")).to_have_value(TINY_CLASSES)
    expect(page.locator("#detect-hint")).to_contain_text("pixembed-tiny, which knows only generated shapes")
    page.set_input_files("#detect-file", {"name": "plain.png", "mimeType": "image/png", "buffer": PLAIN})
    page.click("#detect-run")
    expect(page.locator("#detect-empty")).to_contain_text("Nothing detected for these classes")
    expect(page.locator("#detect-list li")).to_have_count(0)
    assert_fits_and_every_button_clicks(page)


def test_each_panel_shows_it_is_working_until_answered(
    page: Page, server_url: str, shape_images: dict[str, list[bytes]]
) -> None:
    with Client(server_url) as api:
        api.create_collection("shapes")
        api.add_images("shapes", [shape_images[RED][0]], ids=["red"])
    page.goto(server_url)
    red = files_for(shape_images, RED)[:1]
    _while_held(page, "**/v1/embed", lambda: page.set_input_files("#embed-file", red), "#embed-panel")
    expect(page.locator("#embed-norm")).to_have_text("1.000")
    page.set_input_files("#compare-file", red)
    _while_held(page, "**/v1/compare", lambda: page.click("#compare-run"), "#compare-panel")
    expect(page.locator("#compare-result .bar")).to_have_count(4)
    page.set_input_files("#add-files", red)
    _while_held(page, "**/v1/collections/shapes/items", lambda: page.click("#add-run"), "#collections-panel")
    expect(page.locator("#add-status")).to_have_text("added 1 of 1 to shapes")
    page.fill("#search-text", RED)
    _while_held(page, "**/search", lambda: page.click("#search-run"), "#search-panel")
    expect(page.locator("#search-results .card")).to_have_count(2)
    page.select_option("#analysis-collection", "shapes")
    _while_held(page, "**/dedup", lambda: page.click("#dedup-run"), "#analysis-panel")
    expect(page.locator("#dedup-result .summary")).to_be_visible()
    page.set_input_files("#detect-file", red)
    _while_held(page, "**/v1/detect", lambda: page.click("#detect-run"), "#detect-panel")
    expect(page.locator("#detect-canvas")).to_be_visible()


def test_an_error_clears_the_previous_result(
    page: Page, server_url: str, shape_images: dict[str, list[bytes]]
) -> None:
    with Client(server_url) as api:
        api.create_collection("shapes")
        api.add_images("shapes", [shape_images[RED][0], shape_images[BLUE][0]], ids=["red", "blue"])
    page.goto(server_url)
    red = files_for(shape_images, RED)[:1]

    page.set_input_files("#embed-file", red)
    expect(page.locator("#embed-result")).to_be_visible()
    page.set_input_files("#embed-file", NOT_AN_IMAGE)
    expect(page.locator("#embed-panel .error")).to_contain_text("not a supported image")
    expect(page.locator("#embed-result")).to_be_hidden()  # not the red circle's vector under notes.png
    assert page.locator("#embed-plot rect").count() == 0

    page.set_input_files("#compare-file", red)
    page.click("#compare-run")
    expect(page.locator("#compare-result .bar")).to_have_count(4)
    page.set_input_files("#compare-file", NOT_AN_IMAGE)
    page.click("#compare-run")
    expect(page.locator("#compare-panel .error")).to_contain_text("not a supported image")
    expect(page.locator("#compare-result .bar")).to_have_count(0)

    page.fill("#search-text", RED)
    page.click("#search-run")
    expect(page.locator("#search-results .card")).to_have_count(2)
    page.fill("#search-text", "")
    page.set_input_files("#search-image", NOT_AN_IMAGE)
    page.click("#search-run")
    expect(page.locator("#search-panel .error")).to_contain_text("not a supported image")
    expect(page.locator("#search-results .card")).to_have_count(0)

    page.set_input_files("#detect-file", red)
    page.click("#detect-run")
    expect(page.locator("#detect-canvas")).to_be_visible()
    page.set_input_files("#detect-file", NOT_AN_IMAGE)
    page.click("#detect-run")
    expect(page.locator("#detect-panel .error")).to_contain_text("not a supported image")
    expect(page.locator("#detect-canvas")).to_be_hidden()
    expect(page.locator("#detect-list li")).to_have_count(0)

    page.select_option("#analysis-collection", "shapes")
    page.click("#cluster-run")
    expect(page.locator("#cluster-sheets .sheet")).not_to_have_count(0)
    page.fill("#cluster-k", "5")  # more clusters than items: a 4xx
    page.click("#cluster-run")
    expect(page.locator("#analysis-panel .error")).to_be_visible()
    expect(page.locator("#cluster-sheets .sheet")).to_have_count(0)
    expect(page.locator("#cluster-map")).to_be_hidden()
    expect(page.locator("#cluster-legend")).to_be_hidden()
    assert_fits_and_every_button_clicks(page)


def test_compare_shows_cosine_beside_the_share(
    page: Page, server_url: str, shape_images: dict[str, list[bytes]]
) -> None:
    page.goto(server_url)
    page.set_input_files("#compare-file", files_for(shape_images, BLUE)[:1])
    page.fill("#compare-labels", "a blue square\na red circle")
    page.click("#compare-run")
    expect(page.locator("#compare-result .cosine")).to_have_count(2)
    cosines = [float(t.split()[1]) for t in page.locator("#compare-result .cosine").all_inner_texts()]
    assert len(cosines) == 2 and cosines[0] > cosines[1] and -1 <= cosines[1] < cosines[0] <= 1
    expect(page.locator("#compare-note")).to_contain_text("Cosine is how well each label matches")


def test_picking_the_same_file_again_embeds_it_again(
    page: Page, server_url: str, shape_images: dict[str, list[bytes]]
) -> None:
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/v1/embed") else None)
    page.goto(server_url)
    red = files_for(shape_images, RED)[:1]
    for _ in range(2):
        with page.expect_file_chooser() as chooser:
            page.click("#embed-file")
        # The browser fires change only for a new value: opening the picker must have emptied it.
        assert page.locator("#embed-file").evaluate("i => i.value") == ""
        chooser.value.set_files(red)
        expect(page.locator("#embed-norm")).to_have_text("1.000")
    assert len(sent) == 2


def test_docs_render_with_the_network_blocked(page: Page, server_url: str) -> None:
    outside: list[str] = []

    def only_the_server(route: Route) -> None:
        if route.request.url.startswith(server_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_the_server)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("pixembed")
    expect(page.locator(".opblock-summary-path[data-path='/v1/embed']").first).to_be_visible()
    assert errors == [] and outside == []
    page.goto(f"{server_url}/redoc")
    expect(page.locator("h1").first).to_contain_text("pixembed")
    # ReDoc's own "powered by" logo is its one outside request; blocked, the docs still render.
    assert errors == [] and all(url.endswith("logo-mini.svg") for url in outside)
