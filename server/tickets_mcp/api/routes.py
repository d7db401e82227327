"""`Route` and the `@operation` decorator that turns a typed method declaration into an API call.

An operation of the Tickets API is declared once, as a method of `operations.Operations`:

```python
@operation("GET", "/v2/widgets/{number}", idempotent=True)   # a made-up operation
async def get_widget(self, number: TicketNumber) -> Widget:
    "Returns the widget by its number."
```

- the decorator holds the **route**: method, path (each placeholder names an argument), whether the
  operation may be re-sent after an ambiguous failure (``idempotent``), the documented rate limit it
  draws from (``bucket``), how sure we are of the path (``status``), whether it is deprecated, and
  which of the vendor's two APIs it belongs to (``api``: the Tickets API, or the Ticket attachments API
  at its own base URL, `files_url_from`);
- the signature is the **request**: path arguments, then the query (GET) or the JSON body (the other
  methods), typed with `types.py`; arguments are validated against it before anything is sent, and
  bad input raises `InvalidRequest` with one `FieldError` per field;
- the return annotation is the **response**: a model, or ``list[Model]`` for ``{"items": [...]}``
  answers; ``unwrap`` names a key to read first (``items_count``).
- two options for the Attachments API: ``form=True`` sends the arguments as ``multipart/form-data`` parts
  (each a ``(filename, content, content_type)`` triple) instead of a JSON body, and ``answer="bytes"``
  hands the parser the HTTP response itself (a download), not its JSON.

`ROUTES` (in `operations.py`) collects the routes of every declared operation, for `doctor` and tests.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, Required, TypeVar, get_args, get_origin, get_type_hints
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model

from tickets_mcp.api.errors import FieldError, invalid_arguments

DEFAULT_BASE_URL = "https://api.selectel.ru/support"
DEFAULT_IDENTITY_URL = "https://cloud.api.selcloud.ru/identity/v3"
BASE_URL_ENV = "SELECTEL_TICKETS_URL"
# The Ticket attachments API (seen: the vendor's URL list); Servercore's `…/files` is inferred.
DEFAULT_FILES_URL = "https://api.selectel.ru/files"
FILES_URL_ENV = "SELECTEL_FILES_URL"

Method = Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
Bucket = Literal["create", "comment", "upload"]
PathStatus = Literal["seen", "inferred", "code"]
Api = Literal["tickets", "files"]  # which base URL a route's path is relative to
PATH_STATUS: dict[str, str] = {
    "seen": "seen in the vendor's text",
    "code": "seen in working third-party code",
    "inferred": "inferred",
}
Answer = Literal["json", "bytes"]
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Route:
    """How an operation goes on the wire and how it may be retried and paced."""

    name: str
    method: Method
    path: str
    idempotent: bool
    bucket: Bucket | None = None
    path_status: PathStatus = "inferred"
    deprecated: bool = False
    api: Api = "tickets"
    form: bool = False  # the arguments go as multipart/form-data parts (an upload), not as JSON
    answer: Answer = "json"

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.path))

    def url(self, **params: object) -> str:
        """The path with its ``{placeholders}`` filled in; every value is percent-encoded (``/``, ``?``,
        ``#`` included), so a value stays one segment. `path_value_problem` refused what would not."""
        return self.path.format(**{k: quote(str(v), safe="") for k, v in params.items()})


def path_value_problem(value: str) -> str | None:
    """Why ``value`` cannot fill a path placeholder, or None. Decoded first (as often as it decodes: a proxy
    may decode again): ``.`` and ``..`` are dot segments, which HTTP clients and servers resolve, so the
    request would go to another path (``/v2/categories/../fields`` is ``/v2/fields``); a ``/`` or ``\\``
    is a segment separator to a server that decodes ``%2F`` before routing."""
    decoded = value
    for _ in range(8):  # "%252e" -> "%2e" -> "."; bounded, each round only shortens the text
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    shown = repr(value if len(value) <= 40 else value[:39] + "…")
    if decoded.strip() in (".", ".."):
        return (
            f"{shown} is a dot segment ('.' or '..', also when percent-encoded): as a path value it "
            "would change the request path; give the key or id itself"
        )
    if "/" in decoded or "\\" in decoded:
        return (
            f"{shown} holds a '/' or '\\' (also when percent-encoded): as a path value it could change "
            "the request path; give the key or id itself"
        )
    return None


@dataclass(frozen=True, slots=True)
class Request:
    """One validated call: the values of the path placeholders, and the query, the JSON body or the
    multipart parts (``files``: part name -> (filename, content, content type))."""

    path: dict[str, Any]
    query: dict[str, Any] | None
    body: dict[str, Any] | None
    files: dict[str, tuple[str, bytes, str]] | None = None


class Declared:
    """What `operation` learns from one declaration, built on its first call (cold start is measured)."""

    def __init__(self, route: Route, fn: Callable[..., Any], unwrap: str | None) -> None:
        self.route = route
        self.fn = fn
        self.unwrap = unwrap

    @functools.cached_property
    def _signature(self) -> inspect.Signature:
        return inspect.signature(self.fn)

    @functools.cached_property
    def _arguments(self) -> type[BaseModel]:
        """A pydantic model of the arguments: explicit parameters, then the fields of ``**kwargs: Unpack[...]``."""
        hints = get_type_hints(self.fn, include_extras=True)
        fields: dict[str, Any] = {}
        for name, param in list(self._signature.parameters.items())[1:]:  # after self
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                (typed,) = get_args(hints[name])  # Unpack[SomeTypedDict]
                for key, (hint, required) in fields_of(typed).items():
                    fields[key] = (hint, ...) if required else (hint | None, None)
            else:
                default = ... if param.default is inspect.Parameter.empty else param.default
                fields[name] = (hints[name], default)
        config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
        return create_model(f"{self.route.name}_arguments", __config__=config, **fields)

    @functools.cached_property
    def _result(self) -> tuple[TypeAdapter[Any], bool]:
        returns = get_type_hints(self.fn, include_extras=True)["return"]  # an Annotated reader stays
        return TypeAdapter(returns), get_origin(returns) is list

    def request(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Request:
        bound = self._signature.bind(None, *args, **kwargs)
        values = dict(bound.arguments)
        values.pop(next(iter(self._signature.parameters)))  # self
        for name, param in self._signature.parameters.items():
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                values.update(values.pop(name, {}))
        try:
            model = self._arguments.model_validate(values)
        except ValidationError as exc:
            raise invalid_arguments(self.route.name, [field_error(e) for e in exc.errors()]) from None
        if self.route.form:  # parts keep their bytes: a JSON dump would encode them
            parts = {k: v for k, v in dict(model).items() if v is not None}
            return Request({}, None, None, files=parts)
        data = model.model_dump(mode="json", exclude_none=True)
        path = {name: data.pop(name) for name in self.route.placeholders}
        refused = [(k, why) for k, v in path.items() if (why := path_value_problem(str(v))) is not None]
        if refused:  # before anything is sent: the route's path is fixed, whatever a value holds
            raise invalid_arguments(self.route.name, [FieldError(k, why) for k, why in refused])
        if self.route.method == "GET":
            return Request(path, data, None)
        return Request(path, None, data)

    def parse(self, data: Any) -> Any:
        """The answer as the declared return type (ValueError/ValidationError when it is not that shape);
        for ``answer="bytes"`` routes, ``data`` is the HTTP response."""
        adapter, is_list = self._result
        if self.unwrap is not None:
            data = data[self.unwrap]  # KeyError: the answer had no such key
        elif is_list and isinstance(data, dict):
            if "items" not in data:
                raise KeyError("items")
            data = data["items"]
        return adapter.validate_python(data)


def fields_of(typed: Any) -> dict[str, tuple[Any, bool]]:
    """The fields of a TypedDict: name -> (type, required). NotRequired/Required are read from the hints:
    with postponed annotations the TypedDict's own ``__required_keys__`` cannot see them on Python 3.11."""
    fields = {}
    for key, hint in get_type_hints(typed, include_extras=True).items():
        required = get_origin(hint) is Required or (get_origin(hint) is not NotRequired and typed.__total__)
        if get_origin(hint) in (NotRequired, Required):
            hint = get_args(hint)[0]
        fields[key] = (hint, required)
    return fields


def field_error(error: Any) -> FieldError:
    """One pydantic error as a `FieldError`: dotted path, reason, and the allowed values of a closed set."""
    allowed: list[Any] | None = None
    if error.get("type") == "literal_error":
        expected = str((error.get("ctx") or {}).get("expected", ""))
        allowed = [a or (int(b) if b else None) for a, b in re.findall(r"'([^']*)'|(-?\d+)", expected)]
    field = ".".join(str(part) for part in error.get("loc", ())) or "$"
    return FieldError(field=field, reason=str(error.get("msg", "invalid")), allowed=allowed)


def operation(
    method: Method,
    path: str,
    *,
    idempotent: bool,
    bucket: Bucket | None = None,
    status: PathStatus = "inferred",
    deprecated: bool = False,
    unwrap: str | None = None,
    name: str | None = None,
    api: Api = "tickets",
    form: bool = False,
    answer: Answer = "json",
) -> Callable[[F], F]:
    """Declare an API operation on a method whose signature is the request and whose return
    annotation is the response (see the module docstring). The method's body is never run."""

    def declare(fn: F) -> F:
        route = Route(
            name or fn.__name__.lstrip("_"),
            method,
            path,
            idempotent,
            bucket,
            status,
            deprecated,
            api,
            form,
            answer,
        )
        declared = Declared(route, fn, unwrap)

        @functools.wraps(fn)
        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            return await self._send(route, declared.request(args, kwargs), declared.parse)

        call.route = route  # type: ignore[attr-defined]
        call.prepare = declared.request  # type: ignore[attr-defined]  # validate without sending
        return call  # type: ignore[return-value]

    return declare


def routes_of(cls: type) -> dict[str, Route]:
    """The route of every operation declared on ``cls``, by operation name, in declaration order."""
    found = (getattr(member, "route", None) for member in vars(cls).values())
    return {route.name: route for route in found if isinstance(route, Route)}


# Keystone password login (the vendor's authentication page), relative to the identity URL, not to the Tickets base URL.
# Issuing a token twice is harmless, but a failed login is never retried (no retry storm on bad
# credentials).
LOGIN_ROUTE = Route("iam_login", "POST", "/auth/tokens", idempotent=False, path_status="seen")


def base_url_from_env(default: str = DEFAULT_BASE_URL) -> str:
    """The Tickets API base URL: ``SELECTEL_TICKETS_URL`` if set and non-empty, else ``default``."""
    return (os.environ.get(BASE_URL_ENV) or "").strip() or default


def files_url_from(base_url: str) -> str:
    """The Ticket attachments API's base URL next to a Tickets API base URL (inferred): the last path
    segment ``support`` becomes ``files`` (``https://api.selectel.ru/support`` ->
    ``https://api.selectel.ru/files``, the same for Servercore and the sandbox); a base URL of another
    shape gets ``/files`` at the root of its host, the vendor's layout. ``SELECTEL_FILES_URL`` overrides."""
    parts = urlsplit(base_url.strip().rstrip("/"))
    head, _, last = parts.path.rpartition("/")
    path = f"{head}/files" if last == "support" else "/files"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


__all__ = ["Bucket", "Request", "Route", "files_url_from", "operation", "path_value_problem", "routes_of"]
