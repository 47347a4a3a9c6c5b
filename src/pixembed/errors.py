"""pixembed's one error tree.

Every failure that a user can cause or act on is one of these. Each class's ``code`` has one HTTP status in
``pixembed.error_statuses`` (the table both the server's handlers and the client read); the CLI maps errors to
messages and exit codes. Nothing here knows HTTP. Add context to an error with ``with_context`` rather than
building a new one, so that its class and attributes (``retry_after_s``) survive.

    PixembedError
    ├── InvalidRequest            malformed request or arguments (400)
    │   ├── UrlRefused            a URL that is not http(s), or that resolves to a private address
    │   ├── TooManyItems          a batch or dataset over its limit
    │   ├── NoTextTower           text asked of an image-only model (EfficientNet, other timm backbones)
    │   └── UnknownModel          a model (or a compatibility route's model id) this server does not serve
    ├── Unauthorized              missing or invalid API key (401)
    ├── Forbidden                 a valid key without the scope the operation needs (403)
    ├── NotFound                  unknown model, collection, item or route target (404)
    ├── MethodNotAllowed          a route asked with a method it does not answer (405)
    ├── RequestTimeout            a client too slow to send its request's headers or body (408)
    ├── Conflict                  a collection that already exists, another model's collection, or the
    │   │                         last admin key (409)
    │   └── SettingsMismatch      a replica whose model or dimensions differ from its shared state's
    ├── PayloadTooLarge           bytes over the upload limit (413)
    │   └── ImageTooLarge         pixel count over the decompression-bomb limit
    │       └── BudgetFull        an image that fits a request alone, not beside what it already holds
    ├── UnsupportedMediaType      data that is not an image format pixembed decodes (415)
    ├── UndecodableImage          a known image format that cannot be decoded (422)
    ├── FetchFailed               an image URL that could not be fetched (422)
    ├── RateLimited               rate or quota exceeded (429)
    └── Unavailable               overloaded, or the model is not ready (503)
        ├── Overloaded            the work queue is full; retry after retry_after_s
        ├── WeightsUnavailable    weights cannot be found or downloaded
        └── DeadlineExceeded      the request ran past the per-request deadline (504)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Self


class PixembedError(Exception):
    """Root of every error pixembed raises on purpose."""

    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def with_context(self, context: str) -> Self:
        """A copy of this error whose message starts with ``context`` ("image 3: ..."), of the same class and
        with every attribute kept (``retry_after_s`` among them); this error is left as it was."""
        # Built without calling __init__: subclasses take their own arguments, and copying the attributes
        # keeps whatever they set.
        annotated = type(self).__new__(type(self))
        annotated.__dict__.update(self.__dict__)
        annotated.message = f"{context}: {self.message}"
        annotated.args = (annotated.message,)
        annotated.__cause__ = self.__cause__
        return annotated


class InvalidRequest(PixembedError):
    """The request or its arguments are malformed."""

    code = "invalid_request"


class UrlRefused(InvalidRequest):
    """A URL is not allowed: wrong scheme, or it resolves to a private, loopback or reserved address."""

    code = "url_refused"


class TooManyItems(InvalidRequest):
    """A batch or posted dataset holds more items than allowed."""

    code = "too_many_items"


class NoTextTower(InvalidRequest):
    """Text (an embedding, a prompt, a text query) asked of a model that embeds images only."""

    code = "no_text_tower"

    @classmethod
    def of(cls, model: str) -> NoTextTower:
        """The error for ``model``, in the words every route uses."""
        return cls(f"model {model} has no text tower; use a CLIP model for text")


class UnknownModel(InvalidRequest):
    """A request named a model this server does not serve; ``available`` lists those it does."""

    code = "unknown_model"

    def __init__(self, message: str, available: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.available = tuple(available)

    @classmethod
    def of(cls, requested: str, available: Sequence[str], what: str = "model") -> UnknownModel:
        """The error for ``requested`` (a ``what``: "model", "clip_version_id"...), naming the served ones."""
        return cls(f"{what} {requested!r} is not served here; available: {', '.join(available)}", available)


class Unauthorized(PixembedError):
    """No API key, or one that is not valid."""

    code = "unauthorized"


class Forbidden(PixembedError):
    """The credentials are valid but lack the scope the operation needs."""

    code = "forbidden"


class NotFound(PixembedError):
    """The named model, collection or item does not exist."""

    code = "not_found"


class MethodNotAllowed(PixembedError):
    """The route exists, but not for this HTTP method."""

    code = "method_not_allowed"


class Conflict(PixembedError):
    """The request clashes with what exists: a taken name, or a collection of another model."""

    code = "conflict"


class SettingsMismatch(Conflict):
    """A server whose model (or dimensions) differ from those recorded by the replicas sharing its state."""

    code = "settings_mismatch"


class PayloadTooLarge(PixembedError):
    """The upload is larger than the byte limit."""

    code = "payload_too_large"


class ImageTooLarge(PayloadTooLarge):
    """The image declares more pixels than the decompression-bomb limit."""

    code = "image_too_large"


class BudgetFull(ImageTooLarge):
    """This image would fit a request on its own, but not beside what the request already holds (decoded
    images are then embedded in turns; it reaches a caller only when one image alone is over)."""

    code = "decoded_budget_full"


class UnsupportedMediaType(PixembedError):
    """The data is not in an image format pixembed decodes."""

    code = "unsupported_media_type"


class UndecodableImage(PixembedError):
    """The data looks like a supported format but cannot be decoded (truncated or corrupt)."""

    code = "undecodable_image"


class RequestTimeout(PixembedError):
    """The client sent its request too slowly (pauses, or a trickle under the minimum rate)."""

    code = "request_timeout"


class FetchFailed(PixembedError):
    """An image URL could not be fetched: connection error, timeout or an HTTP error status."""

    code = "fetch_failed"


class RateLimited(PixembedError):
    """A rate limit or quota is exceeded."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(PixembedError):
    """The server is overloaded or the model is not ready."""

    code = "unavailable"


class Overloaded(Unavailable):
    """The work queue is full; the client should retry after ``retry_after_s``."""

    code = "overloaded"

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WeightsUnavailable(Unavailable):
    """Model weights are neither on disk nor downloadable."""

    code = "weights_unavailable"


class DeadlineExceeded(Unavailable):
    """The request ran past the server's per-request deadline (answered 504)."""

    code = "deadline_exceeded"


def error_classes() -> Iterator[type[PixembedError]]:
    """Every class of the tree, the root first, each before its subclasses, siblings in the order defined."""
    pending: list[type[PixembedError]] = [PixembedError]
    while pending:
        cls = pending.pop(0)
        yield cls
        pending[:0] = cls.__subclasses__()


def error_class(code: str) -> type[PixembedError]:
    """The class whose ``code`` is ``code``; the root class when none is."""
    return next((cls for cls in error_classes() if cls.code == code), PixembedError)


def error_for_code(code: str, message: str) -> PixembedError:
    """The error of class ``code`` with ``message`` (a stored error read back); the root class when no
    class has that code."""
    return error_class(code)(message)
