"""The servers a user would otherwise write (one image per call, no batching), for bench_http_peers.py.

- ``naive``: FastAPI + open_clip eager fp32, the script most people start from (open_clip's own transform,
  ``encode_image`` under ``torch.no_grad``).
- ``ort``: FastAPI + one ONNX Runtime fp32 session of the image tower, as immich's machine-learning service
  serves CLIP: Pillow decode, resize/crop/normalise in numpy, a batch of one per request.

Both answer ``POST /v1/embed`` (multipart ``image``) with ``{"embedding": [...]}`` and ``GET /readyz``.
Run: ``python benchmarks/peer_servers.py naive|ort --model ViT-B-32 --weights CKPT --onnx FOLDER --port N``.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI, File, UploadFile
from PIL import Image

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def naive_embedder(model: str, weights: str) -> Callable[[Image.Image], list[float]]:
    import open_clip
    import torch

    module, _, preprocess = open_clip.create_model_and_transforms(model, pretrained=weights)
    module.eval()

    def embed(image: Image.Image) -> list[float]:
        with torch.no_grad():
            features = module.encode_image(preprocess(image).unsqueeze(0), normalize=True)
        return features[0].tolist()  # type: ignore[no-any-return]

    return embed


def ort_embedder(folder: str, size: int = 224) -> Callable[[Image.Image], list[float]]:
    import onnxruntime

    session = onnxruntime.InferenceSession(f"{folder}/visual/model.onnx", providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def embed(image: Image.Image) -> list[float]:
        scale = size / min(image.size)
        resized = image.resize(
            (max(size, round(image.width * scale)), max(size, round(image.height * scale))),
            Image.Resampling.BICUBIC,
        )
        left, top = (resized.width - size) // 2, (resized.height - size) // 2
        pixels = np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
        batch = ((pixels - MEAN) / STD).transpose(2, 0, 1)[None]
        features = session.run(None, {name: batch})[0][0]
        return (features / np.linalg.norm(features)).tolist()  # type: ignore[no-any-return]

    return embed


def make_app(embed: Callable[[Image.Image], list[float]]) -> FastAPI:
    app = FastAPI()

    @app.get("/readyz")
    def ready() -> dict[str, bool]:
        return {"ready": True}

    # A plain `def` route: FastAPI runs it in its thread pool, one request per thread, as such servers do.
    @app.post("/v1/embed")
    def embed_route(image: UploadFile = File(...)) -> dict[str, Any]:
        picture = Image.open(io.BytesIO(image.file.read())).convert("RGB")
        return {"embedding": embed(picture)}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["naive", "ort"])
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--weights")
    parser.add_argument("--onnx")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    embed = naive_embedder(args.model, args.weights) if args.kind == "naive" else ort_embedder(args.onnx)
    uvicorn.run(make_app(embed), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
