"""Train pixembed-tiny, the small CLIP model the repo ships, on generated pictures of coloured shapes.

    python scripts/train_tiny.py                        # the committed model, into runtime/assets/
    python scripts/train_tiny.py --quick --out /tmp/tiny   # a few steps: checks that the pipeline works

The result is an open_clip ``local-dir:`` folder (open_clip_config.json, open_clip_model.safetensors in
fp16) plus metrics.json with the zero-shot accuracy over every shape/colour caption on held-out pictures,
measured after reloading the folder exactly as users will load it.

Training pairs every picture with a re-cropped, rescaled or re-encoded copy of itself. Three losses:
each picture against the captions of all classes (image -> text), each caption against all pictures in
the batch (text -> image, every picture of its class a positive; shape-only and colour-only captions
too), and each picture against its own copy (instance discrimination), so that an embedding tells this
picture from other pictures of the same class, not only its class.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import open_clip
import torch
from PIL import Image, ImageEnhance
from safetensors.torch import save_file
from torch.nn import functional

from pixembed.synthetic import CLASSES, COLOURS, SHAPES, caption, render_shape, sample_dataset

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "pixembed" / "runtime" / "assets" / "pixembed-tiny"

MODEL_CFG: dict[str, Any] = {
    "embed_dim": 128,
    # CLIP's ModifiedResNet, scaled down: at this size a ViT trained from scratch learns colour at once
    # but shape only very slowly, while convolutions pick shapes up within a few hundred steps.
    "vision_cfg": {"image_size": 64, "layers": [1, 2, 2, 1], "width": 16, "head_width": 32},
    # The 49408-row token table is most of the file, so the text tower stays narrow; captions are a
    # handful of tokens, and longer queries are truncated by the tokenizer to context_length.
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 4, "layers": 3},
    "quick_gelu": False,
}
PREPROCESS_CFG: dict[str, Any] = {
    "size": 64,
    "mode": "RGB",
    "mean": list(open_clip.OPENAI_DATASET_MEAN),
    "std": list(open_clip.OPENAI_DATASET_STD),
    "interpolation": "bicubic",
    "resize_mode": "shortest",
}
# Held-out pictures come from this offset from the training seed; training draws its pictures from
# SeedSequence([seed, step, chunk]) streams, which never coincide with a plain integer seed.
EVAL_SEED_OFFSET = 10_000
TEMPLATES: tuple[Callable[[str, str], str], ...] = (
    lambda s, c: f"a photo of {caption(s, c)}",
    lambda s, c: f"a picture of {caption(s, c)}",
    lambda s, c: f"an image of {caption(s, c)}",
    lambda s, c: f"a drawing of {caption(s, c)}",
    lambda s, c: f"{c} {s}",
    lambda s, c: f"a {s} that is {c}",
)
INSTANCE_TEMPERATURE = 0.07
INSTANCE_WEIGHT = 0.5
WORKERS = 2
STEPS = 750
BATCH = 96

_preprocess: Callable[[Image.Image], torch.Tensor] | None = None


def near_duplicate(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The same picture as it might come back from elsewhere: slightly cropped, rescaled, re-encoded."""
    todo = rng.random(4) < (0.5, 0.5, 0.5, 0.3)
    if not todo.any():
        todo[rng.integers(4)] = True
    out = image
    if todo[0]:
        w, h = out.size
        left, top, right, bottom = (rng.uniform(0.0, 0.08, 4) * (w, h, w, h)).astype(int)
        out = out.crop((left, top, w - right, h - bottom))
    if todo[1]:
        scale = rng.uniform(0.5, 1.5)
        resample = [Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS]
        size = (max(16, round(out.width * scale)), max(16, round(out.height * scale)))
        out = out.resize(size, resample[int(rng.integers(3))])
    if todo[2]:
        buffer = io.BytesIO()
        out.save(buffer, format="JPEG", quality=int(rng.integers(30, 96)))
        out = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if todo[3]:
        out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.92, 1.08))
        out = ImageEnhance.Contrast(out).enhance(rng.uniform(0.92, 1.08))
    return out


def _init_worker(preprocess: Callable[[Image.Image], torch.Tensor]) -> None:
    global _preprocess  # noqa: PLW0603 - one transform per worker process, set once at start
    _preprocess = preprocess
    torch.set_num_threads(1)


def _render_chunk(job: tuple[list[int], list[int]]) -> tuple[npt.NDArray[np.float32], ...]:
    """Both views of one picture per class id, through the model's own inference preprocessing."""
    entropy, class_ids = job
    assert _preprocess is not None
    rng = np.random.default_rng(entropy)
    first, second = [], []
    for class_id in class_ids:
        shape, colour = CLASSES[class_id]
        # Sizes around the model's 64 px input and well above it, so that the bicubic downscale of the
        # preprocessing is part of what the model learns to see through.
        image = render_shape(shape, colour, size=int(rng.integers(64, 161)), rng=rng)
        first.append(_preprocess(image).numpy())
        second.append(_preprocess(near_duplicate(image, rng)).numpy())
    return np.stack(first), np.stack(second)


def texts_for_step(rng: np.random.Generator) -> tuple[list[str], torch.Tensor]:
    """One caption per class (the plain one half the time), then shape-only and colour-only captions.

    Returns the captions and a (len(captions), len(CLASSES)) mask saying which classes each one fits.
    """
    texts = []
    for shape, colour in CLASSES:
        pick = int(rng.integers(2 * len(TEMPLATES)))
        texts.append(TEMPLATES[pick](shape, colour) if pick < len(TEMPLATES) else caption(shape, colour))
    texts += [f"a {shape}" if rng.random() < 0.5 else f"a photo of a {shape}" for shape in SHAPES]
    texts += [f"something {colour}" if rng.random() < 0.5 else f"the colour {colour}" for colour in COLOURS]
    fits = torch.zeros(len(texts), len(CLASSES))
    for class_id, (shape, colour) in enumerate(CLASSES):
        fits[class_id, class_id] = 1
        fits[len(CLASSES) + SHAPES.index(shape), class_id] = 1
        fits[len(CLASSES) + len(SHAPES) + list(COLOURS).index(colour), class_id] = 1
    return texts, fits


def contrastive_losses(
    images: torch.Tensor, labels: torch.Tensor, texts: torch.Tensor, fits: torch.Tensor, scale: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The three losses for a batch of unit image vectors (first view, then second) and text vectors."""
    n_classes = len(CLASSES)
    image_to_text = functional.cross_entropy(scale * images @ texts[:n_classes].T, labels)
    # Many pictures fit one caption: the caption's loss spreads its target evenly over all of them.
    positives = fits[:, labels]
    present = positives.sum(dim=1) > 0
    log_probs = (scale * texts @ images.T).log_softmax(dim=1)
    per_text = -(log_probs * positives).sum(dim=1) / positives.sum(dim=1).clamp(min=1)
    text_to_image = per_text[present].mean()
    first, second = images.chunk(2)
    same = (first @ second.T) / INSTANCE_TEMPERATURE
    target = torch.arange(len(first))
    instance = (functional.cross_entropy(same, target) + functional.cross_entropy(same.T, target)) / 2
    return {"i2t": image_to_text, "t2i": text_to_image, "inst": instance}


def build_model(folder: Path) -> tuple[Any, Callable[[Image.Image], torch.Tensor], Any]:
    """The model, inference transform and tokenizer of a local-dir folder, through open_clip."""
    name = f"local-dir:{folder}"
    model, _, preprocess = open_clip.create_model_and_transforms(name)
    tokenizer = open_clip.get_tokenizer(name)
    if not isinstance(tokenizer, open_clip.SimpleTokenizer):
        raise TypeError(f"expected open_clip's CLIP SimpleTokenizer, got {type(tokenizer).__name__}")
    return model, preprocess, tokenizer


def write_config(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_cfg": MODEL_CFG, "preprocess_cfg": PREPROCESS_CFG}
    (folder / "open_clip_config.json").write_text(json.dumps(config, indent=2) + "\n")


def optimizer_for(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    decay, keep = [], []
    for name, param in model.named_parameters():
        # Embeddings, gains, biases and the temperature are not weights that decay should pull to zero.
        if param.ndim < 2 or "embedding" in name or name == "logit_scale":
            keep.append(param)
        else:
            decay.append(param)
    groups = [{"params": decay, "weight_decay": 0.05}, {"params": keep, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-6)


def learning_rate(step: int, steps: int, peak: float) -> float:
    warmup = max(1, min(100, steps // 10))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.inference_mode()
def embed_images(
    model: Any, preprocess: Callable[[Image.Image], torch.Tensor], images: Sequence[Image.Image]
) -> torch.Tensor:
    chunks = [
        model.encode_image(torch.stack([preprocess(im) for im in images[i : i + 256]]), normalize=True)
        for i in range(0, len(images), 256)
    ]
    return torch.cat(chunks)


@torch.inference_mode()
def class_texts(model: Any, tokenizer: Any) -> torch.Tensor:
    vectors: torch.Tensor = model.encode_text(tokenizer([caption(s, c) for s, c in CLASSES]), normalize=True)
    return vectors


def evaluate(folder: Path, n: int, seed: int) -> dict[str, Any]:
    """Zero-shot and retrieval figures of the model saved in ``folder``, on ``n`` held-out pictures."""
    model, preprocess, tokenizer = build_model(folder)
    model.eval()
    samples = sample_dataset(n, seed=seed)
    labels = torch.tensor([CLASSES.index((s.shape, s.colour)) for s in samples])
    images = embed_images(model, preprocess, [s.image for s in samples])
    texts = class_texts(model, tokenizer)
    predicted = (images @ texts.T).argmax(dim=1)
    correct = predicted == labels
    errors: dict[str, int] = {}
    for truth, guess in zip(labels[~correct].tolist(), predicted[~correct].tolist(), strict=True):
        key = f"{caption(*CLASSES[truth])} -> {caption(*CLASSES[guess])}"
        errors[key] = errors.get(key, 0) + 1
    # Text -> image: for each caption, the share of its own pictures among the top k, k = how many it has.
    precisions = []
    for class_id in range(len(CLASSES)):
        k = int((labels == class_id).sum())
        if k:
            top = (texts[class_id] @ images.T).topk(k).indices
            precisions.append(float((labels[top] == class_id).float().mean()))
    rng = np.random.default_rng(seed + 1)
    copies = embed_images(model, preprocess, [near_duplicate(s.image, rng) for s in samples])
    same_class = (labels[:, None] == labels[None, :]) & ~torch.eye(len(labels), dtype=torch.bool)
    similarity = images @ images.T
    return {
        "zero_shot_accuracy": round(float(correct.float().mean()), 4),
        "eval_images": n,
        "eval_seed": seed,
        "num_classes": len(CLASSES),
        "text_to_image_precision": round(float(np.mean(precisions)), 4),
        "near_duplicate_cosine_mean": round(float((images * copies).sum(dim=1).mean()), 4),
        "near_duplicate_cosine_min": round(float((images * copies).sum(dim=1).min()), 4),
        "same_class_cosine_mean": round(float(similarity[same_class].mean()), 4),
        "same_class_cosine_max": round(float(similarity[same_class].max()), 4),
        "different_class_cosine_mean": round(float(similarity[labels[:, None] != labels[None, :]].mean()), 4),
        "errors": dict(sorted(errors.items(), key=lambda item: -item[1])),
    }


def save_weights(model: torch.nn.Module, folder: Path) -> Path:
    # fp16 halves the file; open_clip's load_checkpoint copies the values into the fp32 model.
    state = {
        k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous()
        for k, v in model.state_dict().items()
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "open_clip_model.safetensors"
    save_file(state, str(path), metadata={"format": "pt"})
    path.chmod(0o644)  # safetensors creates the file readable by its owner only
    return path


def train(
    model: Any,
    preprocess: Callable[[Image.Image], torch.Tensor],
    tokenizer: Any,
    *,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
) -> None:
    """Train ``model`` in place on ``steps`` batches of freshly generated pictures."""
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    optimizer = optimizer_for(model, lr)
    max_log_scale = math.log(100.0)
    # Workers draw and preprocess while the main process waits, so torch's two threads never compete
    # with them for the two cores.
    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS, initializer=_init_worker, initargs=(preprocess,)) as pool:
        model.train()
        for step in range(steps):
            # Every class the same number of times per batch, in random order.
            rounds = -(-batch // len(CLASSES))
            ids = np.concatenate([rng.permutation(len(CLASSES)) for _ in range(rounds)])[:batch].tolist()
            chunks = [ids[w::WORKERS] for w in range(WORKERS)]
            parts = pool.map(_render_chunk, [([seed, step, w], chunk) for w, chunk in enumerate(chunks)])
            first = torch.from_numpy(np.concatenate([p[0] for p in parts]))
            second = torch.from_numpy(np.concatenate([p[1] for p in parts]))
            labels = torch.tensor([i for chunk in chunks for i in chunk] * 2)
            texts, fits = texts_for_step(rng)

            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, steps, lr)
            image_vectors = model.encode_image(torch.cat([first, second]), normalize=True)
            text_vectors = model.encode_text(tokenizer(texts), normalize=True)
            losses = contrastive_losses(image_vectors, labels, text_vectors, fits, model.logit_scale.exp())
            loss = losses["i2t"] + losses["t2i"] + INSTANCE_WEIGHT * losses["inst"]
            optimizer.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, max_log_scale)

            if step % 25 == 0 or step == steps - 1:
                elapsed = time.monotonic() - started
                detail = " ".join(f"{k} {v.item():.3f}" for k, v in losses.items())
                print(
                    f"step {step + 1}/{steps} loss {loss.item():.3f} ({detail}) "
                    f"scale {model.logit_scale.exp().item():.1f} lr {optimizer.param_groups[0]['lr']:.2e} "
                    f"{elapsed:.0f}s, eta {elapsed / (step + 1) * (steps - step - 1):.0f}s",
                    flush=True,
                )
    model.eval()


def _cpu_seconds() -> float:
    """User and system time of this process and of its finished workers."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, help=f"optimizer steps (default {STEPS}, 3 with --quick)")
    parser.add_argument("--batch", type=int, help=f"pictures per step (default {BATCH}, 48 with --quick)")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-images", type=int, help="held-out pictures (default 960, 96 with --quick)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write (default: the asset)")
    parser.add_argument("--quick", action="store_true", help="a few steps on small batches: a smoke test")
    args = parser.parse_args(argv)
    steps = args.steps if args.steps is not None else (3 if args.quick else STEPS)
    batch = args.batch if args.batch is not None else (48 if args.quick else BATCH)
    eval_images = args.eval_images if args.eval_images is not None else (96 if args.quick else 960)

    started = time.monotonic()
    load_before = os.getloadavg()[0]
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        # Built from a folder holding only the config, so that any weights already in --out are not
        # loaded, and so that the transform is the very one open_clip hands to users of the result.
        write_config(Path(scratch))
        logging.disable(logging.WARNING)  # open_clip warns that this folder has no weights: we know
        try:
            model, preprocess, tokenizer = build_model(Path(scratch))
        finally:
            logging.disable(logging.NOTSET)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"pixembed-tiny: {n_params / 1e6:.2f}M parameters, {steps} steps of {batch} pictures", flush=True)
    train(model, preprocess, tokenizer, steps=steps, batch=batch, lr=args.lr, seed=args.seed)
    train_seconds = time.monotonic() - started

    write_config(args.out)
    weights = save_weights(model, args.out)
    eval_seed = args.seed + EVAL_SEED_OFFSET
    print(f"evaluating the saved model on {eval_images} held-out pictures (seed {eval_seed})", flush=True)
    metrics = evaluate(args.out, eval_images, eval_seed)
    command = ["python", "scripts/train_tiny.py", *(sys.argv[1:] if argv is None else argv)]
    metrics.update(
        {
            "train_seed": args.seed,
            "steps": steps,
            "pictures_per_step": batch,
            "learning_rate": args.lr,
            "parameters": n_params,
            "weights_bytes": weights.stat().st_size,
            "torch_threads": torch.get_num_threads(),
            "train_wall_time_s": round(train_seconds, 1),
            "wall_time_s": round(time.monotonic() - started, 1),
            # Wall time on a shared machine depends on what else runs; CPU time and load say how much.
            "cpu_time_s": round(_cpu_seconds(), 1),
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "command": " ".join(command),
        }
    )
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps({k: v for k, v in metrics.items() if k != "errors"}, indent=2), flush=True)


if __name__ == "__main__":
    main()
