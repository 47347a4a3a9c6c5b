"""Zero-shot comparison: one subject (image or text) against prompts (texts or images)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pixembed.config import Settings
from pixembed.errors import InvalidRequest, TooManyItems
from pixembed.runtime.model import ClipModel, Vectors
from pixembed.services.embedding import embed_texts
from pixembed.services.inputs import ImageSource, load_image, load_images, partition


@dataclass(frozen=True)
class Comparison:
    """Cosine similarity of the subject with each prompt, and softmax probabilities at the logit scale."""

    similarities: list[float]
    probabilities: list[float]
    logit_scale: float


def softmax_at_scale(similarities: Vectors, scale: float) -> Vectors:
    """CLIP's zero-shot probabilities: softmax of the cosines times the model's logit scale."""
    logits = similarities.astype(np.float64) * scale
    logits -= logits.max()
    weights = np.exp(logits)
    probabilities: Vectors = (weights / weights.sum()).astype(np.float32)
    return probabilities


async def embed_subject(model: ClipModel, subject: str | ImageSource, settings: Settings) -> Vectors:
    """One vector for a text or an image subject."""
    if isinstance(subject, str):
        return await embed_texts(model, [subject], settings)
    image = await load_image(subject, settings)
    return await model.embed_images_async([image])


async def compare(
    model: ClipModel,
    subject: str | ImageSource,
    prompts: Sequence[str] | Sequence[ImageSource],
    settings: Settings,
) -> Comparison:
    """Compare the subject with every prompt; prompts are all texts or all images."""
    if not prompts:
        raise InvalidRequest("no prompts given: send at least one text or image to compare with")
    if len(prompts) > settings.max_batch_items:
        raise TooManyItems(f"{len(prompts)} prompts; the limit is {settings.max_batch_items}")
    subject_vector = await embed_subject(model, subject, settings)
    texts = [p for p in prompts if isinstance(p, str)]
    if len(texts) == len(prompts):
        prompt_vectors = await embed_texts(model, texts, settings)
    elif not texts:
        _, images, failures = partition(
            await load_images([p for p in prompts if isinstance(p, ImageSource)], settings)
        )
        for index, failure in failures.items():
            raise failure.with_context(f"prompt image {index}")
        prompt_vectors = await model.embed_images_async(images)
    else:
        raise InvalidRequest("prompts must be all texts or all images, not a mix")
    similarities = (prompt_vectors @ subject_vector[0]).astype(np.float32)
    probabilities = softmax_at_scale(similarities, model.info.logit_scale)
    return Comparison(
        [float(s) for s in similarities], [float(p) for p in probabilities], model.info.logit_scale
    )
