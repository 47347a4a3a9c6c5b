"""What the browser tests share: files to pick, and the checks every screen size must pass."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TINY_CLASSES = "a red circle, a blue square, a green triangle, a yellow star"


def files_for(shape_images: dict[str, list[bytes]], *captions: str) -> list[dict[str, Any]]:
    """Playwright file payloads named like ``a_red_circle_0.png`` for the given captions (all by default)."""
    chosen = captions or tuple(shape_images)
    return [
        {"name": f"{caption.replace(' ', '_')}_{i}.png", "mimeType": "image/png", "buffer": png}
        for caption in chosen
        for i, png in enumerate(shape_images[caption])
    ]


def card_ids(page: Page, grid: str) -> list[str]:
    return page.locator(f"{grid} .card").evaluate_all("cards => cards.map(c => c.dataset.id)")


def assert_fits_and_every_button_clicks(page: Page) -> None:
    """No sideways scrolling, and each visible button would receive a click (nothing covers it)."""
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"the page is {width} px wide in a {inner} px window"
    buttons = page.locator("button:visible")
    assert buttons.count() >= 7
    for i in range(buttons.count()):
        button = buttons.nth(i)
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= inner, button.inner_text()
        # trial: Playwright's actionability checks only (visible, stable, enabled, receives the pointer).
        button.click(trial=True, timeout=3_000)
        label = button.inner_text()
        assert button.evaluate("b => b.scrollWidth <= b.clientWidth"), f"button {label!r} is cut off"
    cut = page.evaluate(CUT_PLACEHOLDERS)
    assert cut == [], f"placeholders cut off: {cut}"


# Visible empty inputs whose placeholder text is wider than the box shows.
CUT_PLACEHOLDERS = """() => {
  const measure = document.createElement("canvas").getContext("2d");
  return [...document.querySelectorAll("input[placeholder], textarea[placeholder]")]
    .filter((i) => i.offsetParent !== null && !i.value)
    .filter((i) => {
      const style = getComputedStyle(i);
      measure.font = style.font;
      const room = i.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return measure.measureText(i.placeholder).width > room + 1;
    })
    .map((i) => `${i.id}: ${i.placeholder}`);
}"""
