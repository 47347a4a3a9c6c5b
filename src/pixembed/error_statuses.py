"""The one table from an error's code to its HTTP status.

The server answers each error with this status (``api/errors.py``) and the client turns a status back into a
class when a body names no code it knows (``wire/errors.py``): both read this table, so a new error class
is given its status here once. It imports nothing but the error tree, so the client can use it without any
server code.
"""

from __future__ import annotations

from pixembed import errors

STATUS_BY_CODE: dict[str, int] = {
    errors.PixembedError.code: 400,
    errors.InvalidRequest.code: 400,
    errors.UrlRefused.code: 400,
    errors.TooManyItems.code: 400,
    errors.NoTextTower.code: 400,
    errors.UnknownModel.code: 400,
    errors.Unauthorized.code: 401,
    errors.Forbidden.code: 403,
    errors.NotFound.code: 404,
    errors.MethodNotAllowed.code: 405,
    errors.RequestTimeout.code: 408,
    errors.Conflict.code: 409,
    errors.SettingsMismatch.code: 409,
    errors.PayloadTooLarge.code: 413,
    errors.ImageTooLarge.code: 413,
    errors.BudgetFull.code: 413,
    errors.UnsupportedMediaType.code: 415,
    errors.UndecodableImage.code: 422,
    errors.FetchFailed.code: 422,
    errors.RateLimited.code: 429,
    errors.Unavailable.code: 503,
    errors.Overloaded.code: 503,
    errors.WeightsUnavailable.code: 503,
    errors.DeadlineExceeded.code: 504,
}


def status_for(error: errors.PixembedError) -> int:
    """The HTTP status of an error: its own code's, else its nearest ancestor's in the table."""
    for cls in type(error).__mro__:
        code = getattr(cls, "code", None)
        if code in STATUS_BY_CODE:
            return STATUS_BY_CODE[code]
    return STATUS_BY_CODE[errors.PixembedError.code]


def class_for_status(status: int) -> type[errors.PixembedError]:
    """The most general error class answered with ``status`` (``InvalidRequest`` for 400, ``Unavailable``
    for 503); the root class when none is."""
    answered = (cls for cls in errors.error_classes() if STATUS_BY_CODE.get(cls.code) == status)
    return next((cls for cls in answered if cls is not errors.PixembedError), errors.PixembedError)
