"""POST /v1/compare: zero-shot comparison of a subject with prompts."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.inputs import Decoded
from pixembed.api.results import compare_answer
from pixembed.api.schemas import CompareRequest
from pixembed.api.state import get_models, get_settings
from pixembed.config import Settings
from pixembed.runtime.pool import ModelPool
from pixembed.services.compare import compare
from pixembed.services.inputs import ImageSource
from pixembed.wire import CompareResponse

router = APIRouter(
    prefix="/v1",
    tags=["compare"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope("read"))],
)

# The subject's file and one file per image prompt.
COMPARE_BODY = Decoded(CompareRequest, max_files=lambda s: s.max_batch_items + 1)


def _label(index: int, prompt: str | ImageSource) -> str:
    return prompt if isinstance(prompt, str) else (prompt.name or f"image {index}")


@router.post("/compare", response_model=CompareResponse, openapi_extra=COMPARE_BODY.openapi)
async def compare_route(
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
    body: CompareRequest = Depends(COMPARE_BODY),
) -> CompareResponse:
    """Cosine similarity of the subject with each prompt, and softmax probabilities (zero-shot)."""
    model = await models.get_async(body.model)
    prompts = body.prompt_inputs()
    result = await compare(model, body.subject_input(), prompts, settings)
    given: Sequence[str | ImageSource] = prompts
    labels = [_label(i, p) for i, p in enumerate(given)]
    return compare_answer(model.info, labels, result)
