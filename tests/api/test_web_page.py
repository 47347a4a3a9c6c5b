"""The web page's files are served by the app itself (no CDN): / and its script and styles."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_page_and_its_assets_are_served_from_the_package(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for panel in (
        "embed-panel",
        "compare-panel",
        "search-panel",
        "analysis-panel",
        "detect-panel",
        "api-key",
    ):
        assert f'id="{panel}"' in page.text
    assets = re.findall(r'(?:src|href)="(/web/[^"]+)"', page.text)
    assert sorted(assets) == ["/web/analysis.js", "/web/app.js", "/web/style.css"]
    assert 'href="/favicon.ico"' in page.text
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 500
    # Everything is local: no script, style or font from another origin.
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text)
    assert client.get("/web/missing.js").status_code == 404


def test_docs_assets_and_icon_are_served_from_installed_packages(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', docs.text)
    assert sorted(assets) == ["/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"]
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 10_000
    assert "SwaggerUIBundle" in client.get("/docs-assets/swagger-ui-bundle.js").text
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
