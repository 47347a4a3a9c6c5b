"""The error tree: one code and one status per class, drawn in the docstring, shared by server and client."""

from __future__ import annotations

import re

import anyio
import pytest

from pixembed import error_statuses, errors
from pixembed.api.errors import error_body
from pixembed.config import Settings
from pixembed.runtime.model import ClipModel
from pixembed.services.analysis import check_duplicate
from pixembed.services.inputs import ImageSource
from pixembed.store import open_store
from pixembed.wire import error_from_body

CLASSES = list(errors.error_classes())
TREE_LINE = re.compile(r"^(?P<indent>[ │├└─]*?)(?P<name>[A-Z][A-Za-z]+)\b")


def drawn_tree() -> dict[str, str | None]:
    """Each class named in errors.py's docstring tree, and the class drawn as its parent."""
    drawn: dict[str, str | None] = {}
    parents: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        match = TREE_LINE.match(line)
        if match is None or not line.startswith("    ") or match["name"] not in vars(errors):
            continue
        depth = (len(match["indent"]) - 4) // 4
        parents[depth:] = [match["name"]]
        drawn[match["name"]] = parents[depth - 1] if depth > 0 else None
    return drawn


def test_the_tree_holds_every_error_class_of_the_module() -> None:
    classes = [value for value in vars(errors).values() if isinstance(value, type)]
    defined = {cls for cls in classes if issubclass(cls, errors.PixembedError)}
    assert set(CLASSES) == defined


def test_every_class_has_its_own_code() -> None:
    codes = [cls.code for cls in CLASSES]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_class_has_a_status_and_a_line_in_the_drawn_tree(cls: type[errors.PixembedError]) -> None:
    assert cls.code in error_statuses.STATUS_BY_CODE
    status = error_statuses.STATUS_BY_CODE[cls.code]
    assert 400 <= status < 600
    drawn = drawn_tree()
    assert cls.__name__ in drawn, f"{cls.__name__} has no line in the tree drawn in errors.py's docstring"
    base = cls.__bases__[0]
    expected_parent = base.__name__ if base is not Exception else None
    assert drawn[cls.__name__] == expected_parent, f"{cls.__name__} is drawn under {drawn[cls.__name__]}"


def test_the_table_names_no_code_without_a_class() -> None:
    assert set(error_statuses.STATUS_BY_CODE) == {cls.code for cls in CLASSES}


@pytest.mark.parametrize("cls", CLASSES[1:], ids=lambda cls: cls.__name__)
def test_the_client_reads_back_what_the_server_answers(cls: type[errors.PixembedError]) -> None:
    body = error_body(cls("it went wrong"))
    assert body["status"] == error_statuses.STATUS_BY_CODE[cls.code]
    status = int(str(body["status"]))
    read_back = error_from_body(body, status)
    assert type(read_back) is cls and read_back.message == "it went wrong"
    # A code the client does not know still gives a class answered with that status.
    unknown = error_from_body({"error": "not-a-pixembed-code", "message": "m"}, status)
    assert error_statuses.status_for(unknown) == status


def test_status_fallback_classes_are_the_general_ones() -> None:
    assert error_statuses.class_for_status(400) is errors.InvalidRequest
    assert error_statuses.class_for_status(413) is errors.PayloadTooLarge
    assert error_statuses.class_for_status(422) is errors.UndecodableImage
    assert error_statuses.class_for_status(503) is errors.Unavailable
    assert error_statuses.class_for_status(504) is errors.DeadlineExceeded
    assert error_statuses.class_for_status(418) is errors.PixembedError


def test_a_subclass_outside_the_table_takes_its_parents_status() -> None:
    class ShardBusy(errors.Overloaded):
        code = "shard_busy"

    assert error_statuses.status_for(ShardBusy("busy")) == 503


def test_context_keeps_the_class_and_every_attribute() -> None:
    original = errors.Overloaded("queue full", retry_after_s=7.5)
    annotated = original.with_context("image 3")
    assert type(annotated) is errors.Overloaded
    assert annotated.message == str(annotated) == "image 3: queue full"
    assert annotated.retry_after_s == 7.5
    assert original.message == "queue full"  # the original is not changed
    limited = errors.RateLimited("slow down", retry_after_s=2.0).with_context("prompt image 0")
    assert isinstance(limited, errors.RateLimited) and limited.retry_after_s == 2.0
    expected = {"error": "rate_limited", "message": "prompt image 0: slow down", "status": 429}
    assert error_body(limited) == expected


def test_a_collection_of_another_model_is_a_conflict_for_duplicate_checks(
    tiny_model: ClipModel, settings: Settings, shape_images: dict[str, list[bytes]]
) -> None:
    # Collections refuse another model's vectors with a 409 everywhere: adding, searching and checking.
    store = open_store(":memory:")
    store.create_collection("products", "ViT-B-32/openai", 512)
    source = ImageSource("bytes", shape_images["a red circle"][0], "query.png")
    with pytest.raises(errors.Conflict, match="holds 512-d vectors from ViT-B-32/openai"):
        anyio.run(check_duplicate, store, tiny_model, "products", source, settings)
