"""schemathesis over every operation in /openapi.json, in process: no 5xx, and documented responses conform.

Examples are few per operation so that CI stays quick; the hypothesis database is off so every run is
independent of the last. (schemathesis' ``from_fixture`` does not work with this pytest, so the app is
built when the module is collected.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from starlette.types import Receive, Scope, Send

from pixembed.api import create_app
from pixembed.api.state import state_of
from pixembed.config import Settings
from pixembed.runtime.loading import load_model

pytestmark = pytest.mark.slow

# Every call carries a full-scope key, so keys that the fuzzer creates through POST /v1/keys (which turn
# auth on) do not shut the other operations out.
KEY = "fuzz-key-0123456789abcdef"
_model = load_model("pixembed-tiny")
_data = Path(tempfile.mkdtemp(prefix="pixembed-fuzz-"))
# No fetch leaves the machine: every URL schemathesis makes up is refused, or fails within half a second.
app = create_app(
    Settings(
        model="pixembed-tiny",
        data_dir=_data,
        fetch_total_timeout_s=0.5,
        fetch_connect_timeout_s=0.2,
        api_keys=[KEY],
    ),
    _model,
)
# One collection exists, so the item and search operations reach their real code, not only the 404.
state_of(app).collections.store.create_collection("fuzz", _model.info.name, _model.info.dimensions)


async def without_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    """The app, minus its lifespan: schemathesis starts a client per call, and the app's shutdown closes
    the store that the next call needs."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[-1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    await app(scope, receive, send)


schema = schemathesis.openapi.from_asgi("/openapi.json", without_lifespan)


@schema.parametrize()
@settings(max_examples=5, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_5xx_and_documented_responses_conform(case: schemathesis.Case) -> None:
    # The key where each client family sends it (native and mSightFlow, CoreViz, SambaStudio, Roboflow),
    # replacing the made-up values schemathesis generates for the security schemes.
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {KEY}", "x-api-key": KEY, "key": KEY}
    if case.query and "api_key" in case.query:
        case.query["api_key"] = KEY
    if isinstance(case.body, dict) and "api_key" in case.body:
        case.body["api_key"] = KEY
    response = case.call_and_validate(
        checks=[response_schema_conformance], excluded_checks=[not_a_server_error]
    )
    assert response.status_code != 401, case.operation.label
    # 501 is APIClaw's documented "detection not available" answer (its schema is checked above);
    # any other 5xx is a bug.
    assert response.status_code < 500 or response.status_code == 501, (case.operation.label, response.text)
