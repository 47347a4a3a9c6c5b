"""AsyncClient against a real server, and API keys sent as a Bearer header."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

from pixembed import AsyncClient, Client, errors
from pixembed.runtime.model import ClipModel
from tests.factories import ServeApp


def test_async_client_matches_the_blocking_one(
    server_url: str, api: Client, shape_images: dict[str, list[bytes]]
) -> None:
    png = shape_images["a red circle"][0]

    async def main() -> tuple[np.ndarray, list[str]]:
        async with AsyncClient(server_url) as client:
            vector = await client.embed(png)
            await client.create_collection("async")
            await client.add_images("async", [png, shape_images["a blue square"][0]], ids=["red", "blue"])
            hits = await client.search_collection("async", text="a red circle", top_k=2)
            with pytest.raises(errors.NotFound):
                await client.get_item("async", "nope")
            return vector, [h.id for h in hits]

    vector, ranked = anyio.run(main)
    np.testing.assert_allclose(vector, api.embed(png), atol=1e-5)
    assert ranked == ["red", "blue"]


def test_api_key_goes_as_bearer(serve_app: ServeApp, tiny_model: ClipModel) -> None:
    url = serve_app(api_keys=["s3cret"])
    with Client(url) as anonymous, pytest.raises(errors.Unauthorized, match="missing API key"):
        anonymous.embed_text("a red circle")
    with (
        Client(url, api_key="wrong") as wrong,
        pytest.raises(errors.Unauthorized, match="invalid API key"),
    ):
        wrong.embed_text("a red circle")
    with Client(url, api_key="s3cret") as keyed:
        assert keyed.embed_text("a red circle").shape == (tiny_model.info.dimensions,)
