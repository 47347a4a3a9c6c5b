"""Property tests for the request parsers: base64 images, limits, rate decisions, request ids, and
arbitrary JSON or multipart bodies through the app (always a clear status, never a 5xx)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixembed.api import create_app
from pixembed.api.middleware import request_id_from
from pixembed.config import Settings
from pixembed.errors import InvalidRequest, PayloadTooLarge
from pixembed.imaging import decode_base64_image
from pixembed.runtime.model import ClipModel
from pixembed.store.limits import Limit, parse_limit, rate_decision

UNITS = ["s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day", "mo", "month"]
FIXTURE_OK = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@given(st.binary(max_size=3000), st.sampled_from(["std", "url", "data", "wrapped"]))
def test_base64_in_any_common_spelling_round_trips(data: bytes, spelling: str) -> None:
    text = base64.b64encode(data).decode()
    if spelling == "url":
        text = base64.urlsafe_b64encode(data).decode().rstrip("=")
    elif spelling == "data":
        text = "data:image/png;base64," + text
    elif spelling == "wrapped":
        text = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    if not data:
        with pytest.raises(InvalidRequest):
            decode_base64_image(text, max_bytes=4096)
        return
    assert decode_base64_image(text, max_bytes=4096) == data


@given(st.text(max_size=400))
def test_any_text_is_bytes_or_a_clear_error(text: str) -> None:
    try:
        decoded = decode_base64_image(text, max_bytes=200)
    except (InvalidRequest, PayloadTooLarge) as exc:
        assert exc.message
    else:
        assert 0 < len(decoded) <= 200


@given(st.integers(1, 10**9), st.sampled_from(UNITS), st.sampled_from(["", " "]))
def test_limits_parse_and_print_back(count: int, unit: str, space: str) -> None:
    limit = parse_limit(f"{count}{space}/{space}{unit.upper() if count % 2 else unit}")
    assert limit.count == count
    assert parse_limit(str(limit)) == limit


@given(st.text(max_size=40))
def test_any_limit_text_is_a_limit_or_invalid(text: str) -> None:
    try:
        limit = parse_limit(text)
    except InvalidRequest:
        return
    assert limit.count >= 1 and limit.seconds >= 1


@given(
    st.integers(1, 20),
    st.sampled_from(["s", "min"]),
    st.lists(st.floats(0, 300, allow_nan=False), min_size=1, max_size=120),
)
def test_a_rate_admits_a_burst_of_its_count_then_one_per_interval(
    count: int, unit: str, offsets: list[float]
) -> None:
    # The token-bucket bound: between any two admitted requests, at most the bucket (count) plus what
    # refilled meanwhile (one per seconds/count) were admitted.
    limit = Limit(count, unit)
    interval = limit.seconds / count
    tat, admitted = 0.0, []
    for now in sorted(1_800_000_000 + offset for offset in offsets):
        decision, tat = rate_decision(limit, tat, now)
        if decision.allowed:
            admitted.append(now)
        else:
            assert decision.retry_after_s > 0
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            assert j - i + 1 <= count + (admitted[j] - start) / interval + 1e-6
    if len(offsets) >= count and len(set(offsets)) == 1:
        assert len(admitted) == count  # a simultaneous burst gets exactly the bucket


@given(st.binary(max_size=300))
def test_request_ids_are_kept_only_when_sane(raw: bytes) -> None:
    chosen = request_id_from({"headers": [(b"x-request-id", raw)]})
    assert re.fullmatch(r"[A-Za-z0-9._:/+=-]{1,128}", chosen)
    assert (chosen == raw.decode("latin-1")) == bool(re.fullmatch(rb"[A-Za-z0-9._:/+=-]{1,128}", raw))


@pytest.fixture(scope="module")
def app_client(tiny_model: ClipModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings_ = Settings(model="pixembed-tiny", data_dir=tmp_path_factory.mktemp("props"), max_request_mb=0.5)
    with TestClient(create_app(settings_, tiny_model)) as client:
        yield client


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
BODY_KEYS = st.sampled_from(["image", "images", "text", "query", "prompts", "subject", "top_k", "dataset"])


@FIXTURE_OK
@given(
    st.sampled_from(["/v1/embed", "/v1/embed/text", "/v1/compare", "/v1/embed/search"]),
    st.dictionaries(BODY_KEYS, JSON, max_size=4) | JSON,
)
def test_any_json_body_gets_a_clear_answer(app_client: TestClient, path: str, body: object) -> None:
    response = app_client.post(path, json=body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()) == {"error", "message", "status"}


@FIXTURE_OK
@given(st.binary(max_size=2000), st.sampled_from(["b0undary", "", "x" * 100, '"quoted"']))
def test_any_multipart_bytes_get_a_clear_answer(app_client: TestClient, raw: bytes, boundary: str) -> None:
    body = b'--b0undary\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n\r\n' + raw
    for payload in (raw, body):
        response = app_client.post(
            "/v1/embed",
            content=payload,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code < 500, response.text
        assert response.status_code in (200, 400, 413, 415, 422)
