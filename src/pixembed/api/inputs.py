"""One request decoder: a route declares one pydantic model, and JSON and multipart bodies both become it.

``Decoded(Model, ...)`` is a FastAPI dependency. A JSON body is validated against the model as it is. A
multipart body is turned into the same dict first, field by field, from the model's own declarations:

- a file part goes to the field that takes it (one whose type accepts ``Upload``), as an ``Upload``;
- text values are passed as they are, so pydantic converts them by the field's type ("5" to an int,
  "true" to a bool); a field whose type is an object or a list of numbers (a filter, a box, a vector)
  takes JSON text;
- a list field (other than a list of numbers) takes every value sent under its name, in order, files first;
- a field reads the parts named by its ``Form(...)`` marker, else the part of its own name; parts that no
  field reads are ignored, as a browser's extra form fields are.

Every rule about the values (ranges, choices, exactly-one-of) is a validator on the model, so JSON and
multipart callers meet the same rules and the same 4xx. A validator may consult ``info.context["form"]``
for the one place where a form means something JSON cannot say. The multipart OpenAPI schema is generated
from the same model (``request_body``), beside the JSON schema by reference.

Written here rather than with FastAPI's ``Form``/``File`` parameters: those give a route either JSON or
multipart, not both, and read files under one name with no streaming per-file cap (``bodies.read_form``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar, get_args

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema
from starlette.datastructures import FormData, UploadFile

from pixembed.api.bodies import is_multipart, read_form, read_json
from pixembed.api.json_limits import parse_json
from pixembed.api.requests import parse_body
from pixembed.api.state import app_state
from pixembed.config import Settings
from pixembed.errors import InvalidRequest

ModelT = TypeVar("ModelT", bound=BaseModel)
REF = "#/components/schemas/{model}"
ANY_FILE = "*"
MULTIPART = "multipart/form-data"
JSON = "application/json"


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart body. No JSON value can become one: its schema accepts only instances."""

    data: bytes
    filename: str

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.is_instance_schema(cls)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "binary"}


@dataclass(frozen=True)
class Form:
    """The multipart part names a field reads, instead of its own name; ``ANY_FILE`` also takes every file
    part that no other field names."""

    names: tuple[str, ...]

    def __init__(self, *names: str) -> None:
        object.__setattr__(self, "names", names)


@dataclass(frozen=True)
class _FieldPlan:
    name: str
    parts: tuple[str, ...]
    takes_files: bool
    repeated: bool
    json_text: bool


def _mentions(annotation: Any, kind: type) -> bool:
    if annotation is kind:
        return True
    return any(_mentions(arg, kind) for arg in get_args(annotation))


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    branches = schema.get("anyOf", [schema])
    return [b for b in branches if b.get("type") != "null"]


def _accepts_text(schema: dict[str, Any]) -> bool:
    return any(b.get("type") in ("string", "integer", "number", "boolean") for b in _branches(schema))


def _is_list_of_values(branch: dict[str, Any]) -> bool:
    """An array sent as one value per part: of texts, images or objects, not of numbers (a box, a vector)."""
    if branch.get("type") != "array":
        return False
    items = branch.get("items", {})
    return not all(b.get("type") in ("integer", "number", "array") for b in _branches(items))


@cache
def form_plan(model: type[BaseModel]) -> tuple[_FieldPlan, ...]:
    """How each field of ``model`` is read from a multipart body (built once per model)."""
    properties = model.model_json_schema(ref_template=REF)["properties"]
    plans = []
    for name, field in model.model_fields.items():
        marker = next((m for m in field.metadata if isinstance(m, Form)), None)
        schema = properties.get(name, {})
        repeated_branch = next((b for b in _branches(schema) if _is_list_of_values(b)), None)
        target = repeated_branch.get("items", {}) if repeated_branch is not None else schema
        takes_files = _mentions(field.annotation, Upload)
        plans.append(
            _FieldPlan(
                name=name,
                parts=marker.names if marker is not None else (name,),
                takes_files=takes_files,
                repeated=repeated_branch is not None,
                json_text=not takes_files and not _accepts_text(target) and target != {},
            )
        )
    return tuple(plans)


def _field_for(plans: Iterable[_FieldPlan], part: str, is_file: bool) -> _FieldPlan | None:
    for plan in plans:
        if part in plan.parts:
            return plan
    if is_file:
        return next((p for p in plans if ANY_FILE in p.parts), None)
    return None


async def form_fields(model: type[BaseModel], form: FormData) -> dict[str, Any]:
    """The multipart ``form`` as the dict ``model`` validates, by the rules in this module's docstring."""
    plans = form_plan(model)
    files: dict[str, list[Any]] = {}
    texts: dict[str, list[Any]] = {}
    for key, value in form.multi_items():
        is_file = isinstance(value, UploadFile)
        plan = _field_for(plans, key, is_file)
        if plan is None:
            continue
        if isinstance(value, UploadFile):
            if not plan.takes_files:
                raise InvalidRequest(f"form field {key!r} must be text, not a file")
            files.setdefault(plan.name, []).append(Upload(await value.read(), value.filename or key))
        else:
            texts.setdefault(plan.name, []).append(parse_json(value, key) if plan.json_text else value)
    fields: dict[str, Any] = {}
    for plan in plans:
        values = files.get(plan.name, []) + texts.get(plan.name, [])
        if values:
            fields[plan.name] = values if plan.repeated else values[0]
    return fields


def _all_defaults(model: type[BaseModel]) -> bool:
    return not any(field.is_required() for field in model.model_fields.values())


class Decoded(Generic[ModelT]):
    """A dependency that reads the request body, JSON or multipart, into ``model``.

    ``max_files`` caps the file parts of a multipart body (from the settings); ``too_many`` says what the
    caller sent too many of, in the route's own words, for the ``TooManyItems`` that follows. A model whose
    fields all have defaults also takes an empty body. ``media`` lists the content types documented.
    """

    def __init__(
        self,
        model: type[ModelT],
        *,
        max_files: Callable[[Settings], int] = lambda s: s.max_batch_items,
        too_many: Callable[[Settings], str] | None = None,
        media: tuple[str, ...] = (JSON, MULTIPART),
    ) -> None:
        self.model = model
        self.max_files = max_files
        self.too_many = too_many
        self.media = media

    async def __call__(self, request: Request) -> ModelT:
        if is_multipart(request):
            settings = app_state(request).settings
            form = await read_form(
                request,
                max_files=self.max_files(settings),
                max_file_bytes=settings.max_upload_bytes,
                too_many=self.too_many(settings) if self.too_many is not None else None,
            )
            return parse_body(self.model, await form_fields(self.model, form), context={"form": True})
        if _all_defaults(self.model) and not (await request.body()).strip():
            return parse_body(self.model, {}, context={"form": False})
        return parse_body(self.model, await read_json(request), context={"form": False})

    @property
    def openapi(self) -> dict[str, Any]:
        """The route's ``openapi_extra``: its request body in every content type it takes."""
        return request_body(self.model, self.media)


def multipart_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The multipart/form-data schema of ``model``: each part name a field reads, typed as sent."""
    properties_of = model.model_json_schema(ref_template=REF)["properties"]
    properties: dict[str, Any] = {}
    required: list[str] = []
    for plan in form_plan(model):
        schema = dict(properties_of.get(plan.name, {}))
        one: dict[str, Any]
        if plan.takes_files:
            one = {"type": "string", "format": "binary"}
        elif plan.json_text:
            one = {"type": "string", "description": "JSON"}
        elif plan.repeated:
            one = next(b for b in _branches(schema) if _is_list_of_values(b))["items"]
        else:
            one = {k: v for k, v in schema.items() if k not in ("title", "description", "default")}
        part = {"type": "array", "items": one} if plan.repeated else one
        if description := schema.get("description"):
            part = {**part, "description": description}
        for name in plan.parts:
            if name != ANY_FILE:
                properties[name] = part
        if model.model_fields[plan.name].is_required():
            required.append(plan.parts[0])
    return {"type": "object", "properties": properties, **({"required": required} if required else {})}


def request_body(model: type[BaseModel], media: tuple[str, ...] = (JSON, MULTIPART)) -> dict[str, Any]:
    """An ``openapi_extra`` request body: the model's JSON schema by reference, and its multipart form."""
    content: dict[str, Any] = {}
    if MULTIPART in media:
        content[MULTIPART] = {"schema": multipart_schema(model)}
    if JSON in media:
        content[JSON] = {"schema": {"$ref": REF.format(model=model.__name__)}}
    return {"requestBody": {"required": not _all_defaults(model), "content": content}}


def decoded_models(routers: Iterable[APIRouter]) -> list[type[BaseModel]]:
    """The models of every ``Decoded`` JSON body among the routers' routes, whose schemas OpenAPI needs."""
    models: list[type[BaseModel]] = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                for dependency in route.dependant.dependencies:
                    call = dependency.call
                    if isinstance(call, Decoded) and JSON in call.media and call.model not in models:
                        models.append(call.model)
    return models
