"""The web page at / in a real browser: each panel's main flow, clicked through against a live server."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pixembed.runtime.model import ClipModel
from tests.factories import ServeApp
from tests.web.helpers import card_ids, files_for


def test_embed_panel_shows_model_dimensions_norm_and_a_plot(
    page: Page, server_url: str, shape_images: dict[str, list[bytes]], tiny_model: ClipModel
) -> None:
    page.goto(server_url)
    expect(page.locator("#model-info")).to_contain_text("pixembed-tiny")
    page.set_input_files("#embed-file", files_for(shape_images, "a red circle")[:1])
    expect(page.locator("#embed-dims")).to_have_text(str(tiny_model.info.dimensions))
    expect(page.locator("#embed-result")).to_have_attribute("data-file", "a_red_circle_0.png")
    expect(page.locator("#embed-model")).to_have_text("pixembed-tiny")
    expect(page.locator("#embed-norm")).to_have_text("1.000")
    assert page.locator("#embed-plot rect").count() == tiny_model.info.dimensions

    # Dropping a file on the panel works like picking it.
    page.evaluate(
        """([name, bytes]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
            document.querySelector("#embed-drop").dispatchEvent(
                new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }""",
        ["blue.png", list(shape_images["a blue square"][0])],
    )
    expect(page.locator("#embed-result")).to_have_attribute("data-file", "blue.png")
    expect(page.locator("#embed-panel .error")).to_be_hidden()


def test_compare_panel_charts_probabilities_best_first(
    page: Page, server_url: str, shape_images: dict[str, list[bytes]]
) -> None:
    page.goto(server_url)
    page.set_input_files("#compare-file", files_for(shape_images, "a green triangle")[:1])
    page.fill("#compare-labels", "a red circle\na green triangle\na blue square")
    page.click("#compare-run")
    bars = page.locator("#compare-result .bar")
    expect(bars).to_have_count(3)
    expect(bars.first).to_have_attribute("data-label", "a green triangle")
    percents = [float(t.rstrip("%")) for t in page.locator("#compare-result .prob").all_inner_texts()]
    assert percents == sorted(percents, reverse=True) and abs(sum(percents) - 100) < 0.5


def test_collection_made_in_the_page_is_searched_by_text_and_image_with_thumbnails(
    page: Page, server_url: str, shape_images: dict[str, list[bytes]]
) -> None:
    page.goto(server_url)
    page.fill("#collection-name", "shapes")
    page.click("#collection-create")
    expect(page.locator("#collections-table tr[data-name=shapes]")).to_have_count(1)
    page.set_input_files("#add-files", files_for(shape_images))
    page.click("#add-run")
    expect(page.locator("#add-status")).to_have_text("added 12 of 12 to shapes")
    expect(page.locator("#collections-table tr[data-name=shapes] .count")).to_have_text("12")

    page.fill("#search-text", "a red circle")
    page.fill("#search-top-k", "5")
    page.click("#search-run")
    expect(page.locator("#search-results .card")).to_have_count(5)
    assert all(i.startswith("a_red_circle_") for i in card_ids(page, "#search-results")[:3])
    # Every card shows its stored thumbnail, fetched with the page's credentials.
    widths = page.locator("#search-results .card img").evaluate_all(
        "imgs => Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth)))"
    )
    assert widths and all(0 < w <= 256 for w in widths)

    page.fill("#search-text", "")
    page.set_input_files("#search-image", files_for(shape_images, "a blue square")[:1])
    page.click("#search-run")
    expect(page.locator("#search-results .card").first).to_have_attribute("data-id", "a_blue_square_0.png")
    assert all(i.startswith("a_blue_square_") for i in card_ids(page, "#search-results")[:3])


def test_posted_set_search_ranks_the_matching_files_first(
    page: Page, server_url: str, shape_images: dict[str, list[bytes]]
) -> None:
    page.goto(server_url)
    page.check("input[name=search-target][value=posted]")
    page.set_input_files("#search-set", files_for(shape_images))
    page.fill("#search-text", "a yellow star")
    page.fill("#search-top-k", "3")
    page.click("#search-run")
    expect(page.locator("#search-results .card")).to_have_count(3)
    assert sorted(card_ids(page, "#search-results")) == [f"a_yellow_star_{i}.png" for i in range(3)]


def test_api_errors_are_shown_with_the_server_message(page: Page, server_url: str, tmp_path: Path) -> None:
    page.goto(server_url)
    page.set_input_files(
        "#embed-file", {"name": "notes.png", "mimeType": "image/png", "buffer": b"plain text"}
    )
    error = page.locator("#embed-panel .error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("not a supported image: got plain text")
    page.fill("#collection-name", "../etc")
    page.click("#collection-create")
    expect(page.locator("#collections-panel .error")).to_contain_text("invalid collection name")
    page.click("#compare-run")
    expect(page.locator("#compare-panel .error")).to_have_text("pick an image to compare")


@pytest.fixture
def keyed_server(serve_app: ServeApp) -> str:
    return serve_app(api_keys=["page-key"])


def test_api_key_field_is_sent_and_remembered_and_auth_errors_point_at_it(
    page: Page, keyed_server: str, shape_images: dict[str, list[bytes]]
) -> None:
    page.goto(keyed_server)
    banner = page.locator("#global-error")
    # No key typed: the banner (not a header name) sends the user to the field, which is marked.
    expect(banner).to_contain_text("This server wants an API key: type it in the API key field")
    expect(page.locator("header label.key.wanted")).to_have_count(1)
    image = files_for(shape_images, "a red circle")[:1]
    page.set_input_files("#embed-file", image)
    expect(page.locator("#embed-panel .error")).to_contain_text("type it in the API key field")
    expect(page.locator("#embed-panel .error")).not_to_contain_text("header")

    page.fill("#api-key", "wrong-key")
    page.dispatch_event("#api-key", "change")
    expect(banner).to_contain_text("refused the key in the API key field")
    expect(banner).to_contain_text("invalid API key")

    page.fill("#api-key", "page-key")
    page.dispatch_event("#api-key", "change")
    # The next answered request (the collection list) clears the banner and the mark.
    expect(banner).to_be_hidden()
    expect(page.locator("header label.key.wanted")).to_have_count(0)
    page.set_input_files("#embed-file", image)
    expect(page.locator("#embed-norm")).to_have_text("1.000")
    expect(page.locator("#embed-panel .error")).to_be_hidden()
    page.reload()
    expect(page.locator("#api-key")).to_have_value("page-key")
    expect(banner).to_be_hidden()
