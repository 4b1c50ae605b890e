"""The one error a request can end in, and OpenAI's body for it.

Every refusal (a bad value, a wrong key, an unknown model, a full queue) is a `RequestError`
carrying its HTTP status; `error_body` writes it as OpenAI does,
`{"error": {"message", "type", "param", "code"}}`, so OpenAI's clients raise their own
matching exception (BadRequestError for 400, AuthenticationError for 401, ...).
"""

from __future__ import annotations

# OpenAI's error type for each status this server answers with.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
}


class RequestError(Exception):
    """A request the server refuses: its status, message, and the field (`param`) at fault."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    @property
    def type(self) -> str:
        return ERROR_TYPES.get(self.status, "invalid_request_error")


def error_body(error: RequestError) -> dict:
    """OpenAI's error object for `error`."""
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}
