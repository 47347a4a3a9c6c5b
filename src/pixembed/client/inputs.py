"""Turn what a caller has (a path, bytes, a PIL image, a URL, a numpy array) into the API's JSON values."""

from __future__ import annotations

import base64
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from pixembed.errors import InvalidRequest

if TYPE_CHECKING:
    from PIL import Image

# A path (str or PathLike), an http(s) URL or data URI (str), encoded bytes, a PIL image, or an
# HxWx3 (or HxW) uint8 numpy array.
ImageInput: TypeAlias = "str | os.PathLike[str] | bytes | Image.Image | npt.NDArray[Any]"
VectorInput: TypeAlias = "Sequence[float] | npt.NDArray[Any]"


def _is_pil_image(value: object) -> bool:
    # PIL is imported only when the caller already has it loaded: then ``value`` may be one of its images.
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(value, pil.Image)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _array_to_png(array: npt.NDArray[Any]) -> bytes:
    from PIL import Image

    if array.dtype != np.uint8 or not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise InvalidRequest(
            f"a numpy image must be an HxWx3 (or HxWx4, HxW) uint8 array, got {array.dtype} {array.shape}"
        )
    return _png_bytes(Image.fromarray(np.ascontiguousarray(array)))


def image_ref(image: ImageInput, name: str | None = None) -> dict[str, str]:
    """The ``ImageRef`` JSON object for one image, with ``name`` echoed back by the server."""
    if isinstance(image, str) and image.lower().startswith(("http://", "https://")):
        return {"url": image, **({"name": name} if name else {})}
    if isinstance(image, str) and image.startswith("data:"):
        return {"data": image, **({"name": name} if name else {})}
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        if not path.is_file():
            raise InvalidRequest(f"no such image file: {path} (URLs must start with http:// or https://)")
        data, name = path.read_bytes(), name or path.name
    elif isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
    elif isinstance(image, np.ndarray):
        data = _array_to_png(image)
    elif _is_pil_image(image):
        data = _png_bytes(image)
    else:
        raise InvalidRequest(
            f"cannot send {type(image).__name__} as an image: "
            "give a path, URL, bytes, PIL image or uint8 array"
        )
    return {"base64": base64.b64encode(data).decode("ascii"), **({"name": name} if name else {})}


def image_refs(images: Sequence[ImageInput]) -> list[dict[str, str]]:
    """``image_ref`` for each image of a batch."""
    if isinstance(images, str | bytes | np.ndarray) or _is_pil_image(images):
        raise InvalidRequest("expected a list of images; for one image use the single-image method")
    return [image_ref(image) for image in images]


def vector_list(vector: VectorInput) -> list[float]:
    """A 1-D vector as a JSON list of floats."""
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.size == 0:
        raise InvalidRequest(f"a vector must be a non-empty 1-D array, got shape {array.shape}")
    return [float(x) for x in array]
