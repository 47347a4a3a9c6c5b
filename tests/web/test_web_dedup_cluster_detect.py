"""The page's duplicates, clusters, 2-D map and detection panels in a real browser.

These drive routes from other branches (issues 4 and 8, shapes fixed in CONTRACTS.md); this file passes
once they are merged.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from pixembed import Client
from tests.contract_images import near_copy, side_by_side

RED, BLUE = "a red circle", "a blue square"


def _fill_collection(server_url: str, shape_images: dict[str, list[bytes]]) -> None:
    with Client(server_url) as api:
        api.create_collection("shapes")
        images, ids = [], []
        for caption, pngs in shape_images.items():
            for i, png in enumerate(pngs):
                images.append(png)
                ids.append(f"{caption.replace(' ', '_')}_{i}")
        images.append(near_copy(shape_images[BLUE][2]))
        ids.append("a_blue_square_copy")
        api.add_images("shapes", images, ids=ids)


def test_duplicates_show_as_a_contact_sheet(
    page: Page, server_url: str, shape_images: dict[str, list[bytes]]
) -> None:
    _fill_collection(server_url, shape_images)
    page.goto(server_url)
    page.select_option("#analysis-collection", "shapes")
    expect(page.locator("#dedup-method")).to_have_value("combined")  # the API's and the CLI's default too
    page.click("#dedup-run")
    sheets = page.locator("#dedup-result .sheet")
    expect(sheets).to_have_count(1)
    ids = sheets.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.id)")
    assert sorted(ids) == ["a_blue_square_2", "a_blue_square_copy"]
    expect(sheets.locator(".card.keep")).to_have_attribute("data-id", "a_blue_square_2")
    expect(page.locator("#dedup-result .summary")).to_contain_text("1 duplicate groups")


def test_clusters_show_as_contact_sheets_and_a_map(
    page: Page, server_url: str, shape_images: dict[str, list[bytes]]
) -> None:
    _fill_collection(server_url, shape_images)
    page.goto(server_url)
    page.select_option("#analysis-collection", "shapes")
    page.fill("#cluster-k", "4")
    page.fill("#cluster-labels", ", ".join(shape_images))
    page.fill("#cluster-label-threshold", "0.8")
    with page.expect_request(lambda request: request.url.endswith("/cluster")) as sent:
        page.click("#cluster-run")
    assert sent.value.post_data_json["label_threshold"] == 0.8  # below it a cluster is named "unknown"
    sheets = page.locator("#cluster-sheets .sheet[data-cluster]")
    expect(sheets).to_have_count(4)
    for i in range(4):
        ids = sheets.nth(i).locator(".card").evaluate_all("cards => cards.map(c => c.dataset.id)")
        captions = {item_id.rsplit("_", 1)[0].replace("_", " ") for item_id in ids}
        assert len(captions) == 1, ids  # each sheet holds one kind of shape
        # named by its label, with the name's confidence
        expect(sheets.nth(i).locator("h3")).to_contain_text(f'"{captions.pop()}" (confidence 1.00)')
    expect(page.locator("#cluster-map")).to_be_visible()
    expect(page.locator("#cluster-map .point")).to_have_count(13)
    colours = page.locator("#cluster-map .point").evaluate_all("ps => ps.map(p => p.getAttribute('fill'))")
    assert len(set(colours)) == 4  # one colour per cluster


# For each listed box: the share of pixels along its four edges where the canvas differs from the picture
# (drawn afresh from the picked file), i.e. where a box line was really painted over it.
EDGE_CHANGE = """rows => {
  const canvas = document.querySelector("#detect-canvas");
  const drawn = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const file = document.querySelector("#detect-file").files[0];
  return createImageBitmap(file).then((bitmap) => {
    const plain = new OffscreenCanvas(canvas.width, canvas.height).getContext("2d");
    plain.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const picture = plain.getImageData(0, 0, canvas.width, canvas.height).data;
    const differs = (x, y) => {
      const [cx, cy] = [Math.min(Math.max(Math.round(x), 0), canvas.width - 1),
                        Math.min(Math.max(Math.round(y), 0), canvas.height - 1)];
      const i = (cy * canvas.width + cx) * 4;
      return Math.max(...[0, 1, 2].map((c) => Math.abs(drawn[i + c] - picture[i + c]))) > 40;
    };
    return rows.map((row) => {
      const [x1, y1, x2, y2] = JSON.parse(row.dataset.box);
      let changed = 0, total = 0;
      for (let x = x1; x <= x2; x++) { changed += differs(x, y1) + differs(x, y2); total += 2; }
      for (let y = y1; y <= y2; y++) { changed += differs(x1, y) + differs(x2, y); total += 2; }
      return [row.dataset.label, changed / total];
    });
  });
}"""


def test_detection_draws_the_boxes(page: Page, server_url: str, shape_images: dict[str, list[bytes]]) -> None:
    picture, left, right = side_by_side(shape_images[RED][0], shape_images[BLUE][0])
    page.goto(server_url)
    page.set_input_files("#detect-file", {"name": "two.png", "mimeType": "image/png", "buffer": picture})
    page.fill("#detect-classes", f"{RED}, {BLUE}")
    page.click("#detect-run")
    expect(page.locator("#detect-canvas")).to_be_visible()
    rows = page.locator("#detect-list li")
    expect(rows.first).to_be_visible()
    boxes = rows.evaluate_all("rows => rows.map(r => [r.dataset.label, JSON.parse(r.dataset.box)])")
    assert {label for label, _ in boxes} == {RED, BLUE}  # every expected label, nothing else
    for label, (x1, _, x2, _) in boxes:
        half = left if label == RED else right
        assert half[0] <= (x1 + x2) / 2 <= half[2], (label, x1, x2)  # each in its own half
    size = page.locator("#detect-canvas").evaluate("c => [c.width, c.height]")
    assert size == [320, 160]
    # Each returned box is painted: along its edges the canvas no longer shows the picture.
    for label, changed in rows.evaluate_all(EDGE_CHANGE):
        assert changed > 0.9, (label, changed)


def test_detection_errors_are_shown(page: Page, server_url: str) -> None:
    page.goto(server_url)
    page.set_input_files("#detect-file", {"name": "x.png", "mimeType": "image/png", "buffer": b"nope"})
    page.click("#detect-run")
    expect(page.locator("#detect-panel .error")).to_contain_text("not a supported image")
