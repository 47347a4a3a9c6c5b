"""Roboflow's CLIP routes, called by the published inference-sdk against a real pixembed on loopback."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from fastapi.testclient import TestClient
from inference_sdk import InferenceConfiguration, InferenceHTTPClient
from inference_sdk.http.errors import HTTPCallErrorError
from PIL import Image

from tests.compat.conftest import KEY

PROMPTS = ["a red circle", "a blue square", "a green triangle"]

# The SDK nudges every legacy-transport client towards the Bearer header; the doc's snippet is legacy.
pytestmark = pytest.mark.filterwarnings("ignore::inference_sdk.config.InferenceSDKGuidanceWarning")


@pytest.fixture
def sdk(live_server: str) -> InferenceHTTPClient:
    """The SDK as the doc builds it, pointed at pixembed."""
    return InferenceHTTPClient(api_url=live_server, api_key=KEY)


@pytest.fixture
def red_path(tmp_path: Path, shape_images: dict[str, list[bytes]]) -> str:
    """A local image file, as the doc's snippet downloads one before comparing."""
    path = tmp_path / "red.png"
    path.write_bytes(shape_images["a red circle"][0])
    return str(path)


def native_compare(
    post: Callable[..., Any],
    url: str,
    *,
    image: bytes | None = None,
    prompts: list[str] | None = None,
    subject_text: str | None = None,
    prompt_images: list[bytes] | None = None,
) -> list[float]:
    """Similarities from native ``/v1/compare`` (multipart), the figures Roboflow's route must repeat."""
    files = [("prompt_images", (f"p{i}.png", b)) for i, b in enumerate(prompt_images or [])]
    if image is not None:
        files.append(("image", ("x.png", image)))
    data: dict[str, object] = {"prompts": prompts or []}
    if subject_text is not None:
        data["subject_text"] = subject_text
    response = post(f"{url}/v1/compare", files=files, data=data, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    similarities: list[float] = response.json()["similarities"]
    return similarities


def live_post(url: str, **kwargs: Any) -> requests.Response:
    return requests.post(url, timeout=30, **kwargs)


def test_sdk_clip_compare_matches_native_compare(
    sdk: InferenceHTTPClient, live_server: str, red_path: str
) -> None:
    result = sdk.clip_compare(subject=red_path, prompt=PROMPTS, subject_type="image", prompt_type="text")
    assert isinstance(result, dict)
    assert len(result["similarity"]) == len(PROMPTS)
    expected = native_compare(live_post, live_server, image=Path(red_path).read_bytes(), prompts=PROMPTS)
    assert np.allclose(result["similarity"], expected, atol=1e-4)
    assert result["time"] >= 0


def test_sdk_clip_compare_ranks_the_right_caption_first(sdk: InferenceHTTPClient, red_path: str) -> None:
    # Semantic: needs the trained tiny model.
    result = sdk.clip_compare(subject=red_path, prompt=PROMPTS)
    assert isinstance(result, dict)
    assert int(np.argmax(result["similarity"])) == 0


def test_sdk_image_embeddings_for_paths_pil_and_numpy(
    sdk: InferenceHTTPClient, red_path: str, tiny_dimensions: int
) -> None:
    one = sdk.get_clip_image_embeddings(inference_input=red_path)
    assert isinstance(one, dict)
    [vector] = one["embeddings"]
    assert len(vector) == tiny_dimensions
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)
    pil = Image.open(red_path).convert("RGB")
    many = sdk.get_clip_image_embeddings(inference_input=[pil, np.asarray(pil)[:, :, ::-1].copy()])
    assert isinstance(many, list)
    assert len(many) == 2
    # The SDK re-encodes PIL and numpy input as JPEG, so these match the PNG closely but not exactly.
    for result in many:
        assert float(np.dot(result["embeddings"][0], vector)) > 0.98


def test_sdk_text_embeddings(sdk: InferenceHTTPClient, live_server: str, tiny_dimensions: int) -> None:
    one = sdk.get_clip_text_embeddings(text="a red circle")
    assert isinstance(one, dict)
    assert len(one["embeddings"]) == 1
    assert len(one["embeddings"][0]) == tiny_dimensions
    many = sdk.get_clip_text_embeddings(text=PROMPTS)
    assert isinstance(many, dict)
    assert len(many["embeddings"]) == 3
    assert np.allclose(many["embeddings"][0], one["embeddings"][0], atol=1e-5)


def test_sdk_with_the_key_in_a_bearer_header(live_server: str, red_path: str) -> None:
    sdk = InferenceHTTPClient(api_url=live_server, api_key=KEY)
    sdk.configure(InferenceConfiguration(api_key_transport="header"))
    result = sdk.clip_compare(subject=red_path, prompt=PROMPTS)
    assert isinstance(result, dict)
    expected = native_compare(live_post, live_server, image=Path(red_path).read_bytes(), prompts=PROMPTS)
    assert np.allclose(result["similarity"], expected, atol=1e-4)
    assert int(np.argmax(result["similarity"])) == 0


def test_sdk_clip_compare_one_image_prompt(sdk: InferenceHTTPClient, live_server: str, red_path: str) -> None:
    # The SDK sends one image prompt as a bare {"type", "value"} object, not a list or a dict of names.
    result = sdk.clip_compare(
        subject="a red circle", subject_type="text", prompt=red_path, prompt_type="image"
    )
    assert isinstance(result, dict)
    expected = native_compare(
        live_post, live_server, subject_text="a red circle", prompt_images=[Path(red_path).read_bytes()]
    )
    assert len(result["similarity"]) == 1
    assert np.allclose(result["similarity"], expected, atol=1e-4)


def test_sdk_clip_compare_image_prompts_rank_the_matching_image_first(
    sdk: InferenceHTTPClient, live_server: str, shape_images: dict[str, list[bytes]], tmp_path: Path
) -> None:
    paths = []
    for i, caption in enumerate(PROMPTS):
        path = tmp_path / f"{i}.png"
        path.write_bytes(shape_images[caption][0])
        paths.append(str(path))
    result = sdk.clip_compare(subject="a blue square", subject_type="text", prompt=paths, prompt_type="image")
    assert isinstance(result, dict)
    expected = native_compare(
        live_post,
        live_server,
        subject_text="a blue square",
        prompt_images=[shape_images[c][0] for c in PROMPTS],
    )
    assert np.allclose(result["similarity"], expected, atol=1e-4)
    assert int(np.argmax(result["similarity"])) == 1


@pytest.mark.parametrize("kind", ["url", "base64"])
def test_raw_json_one_image_prompt_object(keyed_client: TestClient, image_server: str, kind: str) -> None:
    png = requests.get(f"{image_server}/outfit.png", timeout=10).content
    value = f"{image_server}/outfit.png" if kind == "url" else base64.b64encode(png).decode()
    body = {
        "api_key": KEY,
        "subject": "a red circle",
        "subject_type": "text",
        "prompt": {"type": kind, "value": value},
        "prompt_type": "image",
    }
    response = keyed_client.post("/clip/compare", json=body)
    assert response.status_code == 200, response.text
    expected = native_compare(keyed_client.post, "", subject_text="a red circle", prompt_images=[png])
    assert np.allclose(response.json()["similarity"], expected, atol=1e-4)


def test_one_image_object_with_text_prompt_type_is_a_400(keyed_client: TestClient) -> None:
    body = {"api_key": KEY, "subject": "a red circle", "subject_type": "text"}
    body["prompt"] = {"type": "url", "value": "http://example.com/x.png"}  # type: ignore[assignment]
    response = keyed_client.post("/clip/compare", json={**body, "prompt_type": "text"})
    assert response.status_code == 400, response.text
    assert "image object" in response.json()["message"]


def test_sdk_with_a_wrong_key_raises_401_with_roboflow_message(live_server: str, red_path: str) -> None:
    sdk = InferenceHTTPClient(api_url=live_server, api_key="not-the-key")
    with pytest.raises(HTTPCallErrorError) as raised:
        sdk.get_clip_text_embeddings(text="a red circle")
    assert raised.value.status_code == 401
    assert raised.value.api_message == "invalid API key"


def test_curl_compare_example(keyed_client: TestClient, image_server: str) -> None:
    body = {
        "api_key": KEY,
        "subject": {"type": "url", "value": f"{image_server}/outfit.jpg"},
        "subject_type": "image",
        "prompt": ["a photo of a dog", "a photo of a cat", "a photo of a car"],
        "prompt_type": "text",
    }
    response = keyed_client.post("/clip/compare", json=body)
    assert response.status_code == 200, response.text
    jpeg = requests.get(f"{image_server}/outfit.jpg", timeout=10).content
    expected = native_compare(keyed_client.post, "", image=jpeg, prompts=body["prompt"])  # type: ignore[arg-type]
    assert np.allclose(response.json()["similarity"], expected, atol=1e-4)


def test_curl_compare_ranks_the_right_caption_first(keyed_client: TestClient, image_server: str) -> None:
    prompts = ["a green triangle", "a red circle and a blue square", "a photo of a car"]
    body = {
        "api_key": KEY,
        "subject": {"type": "url", "value": f"{image_server}/outfit.png"},
        "prompt": prompts,
    }
    response = keyed_client.post("/clip/compare", json=body)
    assert response.status_code == 200, response.text
    assert int(np.argmax(response.json()["similarity"])) == 1


def test_compare_with_prompt_dict_text_subject_and_image_prompts(
    keyed_client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    images = {
        c: {"type": "base64", "value": base64.b64encode(v[0]).decode()} for c, v in shape_images.items()
    }
    body = {"api_key": KEY, "subject": "a red circle", "subject_type": "text", "prompt": images}
    body["prompt_type"] = "image"
    response = keyed_client.post("/clip/compare", json=body)
    assert response.status_code == 200, response.text
    similarity = response.json()["similarity"]
    assert list(similarity) == list(shape_images)
    expected = native_compare(
        keyed_client.post,
        "",
        subject_text="a red circle",
        prompt_images=[v[0] for v in shape_images.values()],
    )
    assert np.allclose(list(similarity.values()), expected, atol=1e-4)
    assert max(similarity, key=similarity.get) == "a red circle"


def test_key_in_the_query_string(keyed_client: TestClient) -> None:
    response = keyed_client.post(f"/clip/embed_text?api_key={KEY}", json={"text": "a red circle"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"image": {"type": "numpy", "value": "gASV"}}, 400),
        ({"image": {"type": "base64", "value": "%%%"}}, 400),
        ({"image": {"type": "base64", "value": base64.b64encode(b"text, not an image").decode()}}, 415),
        ({"image": {"value": "abc"}}, 400),
        ({"text": ""}, 200),
        ({"text": []}, 400),
    ],
)
def test_bad_input_answers_a_roboflow_message(
    keyed_client: TestClient, body: dict[str, object], status: int
) -> None:
    path = "/clip/embed_text" if "text" in body else "/clip/embed_image"
    response = keyed_client.post(path, json={"api_key": KEY, **body})
    assert response.status_code == status, response.text
    if status != 200:
        assert set(response.json()) == {"message"}


def test_missing_key_is_a_roboflow_401(keyed_client: TestClient) -> None:
    response = keyed_client.post("/clip/embed_text", json={"text": "a red circle"})
    assert response.status_code == 401
    assert response.json() == {
        "message": "missing API key: send it as 'api_key' in the JSON body or the query string, "
        "or an Authorization: Bearer header"
    }


def test_truncated_image_is_a_4xx(keyed_client: TestClient, shape_images: dict[str, list[bytes]]) -> None:
    buffer = io.BytesIO(shape_images["a red circle"][0][:200])
    value = base64.b64encode(buffer.getvalue()).decode()
    response = keyed_client.post(
        "/clip/embed_image", json={"api_key": KEY, "image": {"type": "base64", "value": value}}
    )
    assert response.status_code == 422
    assert "message" in response.json()
