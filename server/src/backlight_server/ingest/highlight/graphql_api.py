"""``POST /public``: highlight.run's GraphQL calls, executed by graphql-core on a schema
subset (schema.graphql). Anything outside the schema gets a GraphQL error."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from functools import cache
from importlib import resources
from typing import Any

import orjson
from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    build_schema,
    execute,
    parse,
    validate,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.errors import ClientError
from backlight_server.ingest.body import decode_encoding, media_type, read_body
from backlight_server.ingest.highlight import limits
from backlight_server.ingest.highlight.mapping import (
    decode_compressed,
    payload_batch,
    timestamp_ms,
)
from backlight_server.ingest.responses import error_response, json_response
from backlight_server.pipeline import jsontext
from backlight_server.pipeline.linkage import ID_RULE, MAX_ID, clean_id
from backlight_server.pipeline.model import BrowserBatch, Identify, SessionInfo, TrackRecord
from backlight_server.state import AppState, get_state
from backlight_server.symbolicate.grouping import group_batch

MAX_SEQ = 2**62
Resolver = Callable[..., Awaitable[Any]]


@cache
def schema() -> GraphQLSchema:
    sdl = (resources.files("backlight_server.ingest.highlight") / "schema.graphql").read_text()
    built = build_schema(sdl)
    mutation = built.mutation_type
    assert mutation is not None
    for name, fn in RESOLVERS.items():
        mutation.fields[name].resolve = fn
    return built


def _ctx(info: Any) -> tuple[AppState, Request]:
    return info.context["state"], info.context["request"]


def _session(state: AppState, secure_id: str) -> SessionInfo:
    session = state.store.session_info(str(secure_id)[:MAX_ID])
    if session is None:
        raise GraphQLError(
            f"unknown session {str(secure_id)[:MAX_ID]!r}: call initializeSession first",
            extensions={"code": "unknown_session"},
        )
    return session


def _seq(payload_id: object) -> int:
    text = str(payload_id)
    seq = int(text) if len(text) <= 20 and text.isdecimal() else -1
    if not 0 <= seq <= MAX_SEQ:
        raise GraphQLError(
            f"payload_id must be an integer from 0 to {MAX_SEQ}",
            extensions={"code": "invalid_payload"},
        )
    return seq


async def initialize_session(_: Any, info: Any, **args: Any) -> dict[str, Any]:
    state, request = _ctx(info)
    project = str(args["organization_verbose_id"])[:64]
    if not state.store.project_exists(project):
        raise GraphQLError(
            f"project {project!r} does not exist on this server (see "
            "`backlight project create --id`)",
            extensions={"code": "unknown_project"},
        )
    secure_id = clean_id(args["session_secure_id"])
    if secure_id is None:
        raise GraphQLError(
            f"session_secure_id must be {ID_RULE}", extensions={"code": "invalid_field"}
        )
    await state.store.start_session(
        SessionInfo(
            project_id=project,
            secure_id=secure_id,
            started_ms=time.time() * 1000,
            user_agent=request.headers.get("user-agent", "")[:512] or None,
            sdk_version=f"highlight.run {str(args.get('clientVersion'))[:64]}",
            environment=str(args.get("environment") or "")[:512] or None,
            service=str(args.get("serviceName") or "")[:512] or None,
            app_version=str(args.get("appVersion") or "")[:512] or None,
        )
    )
    return {"secure_id": secure_id, "project_id": numeric_project_id(project), "sampling": None}


def numeric_project_id(project: str) -> str:
    """highlight.run parses ``project_id`` as a positive integer (its ids are numeric) and
    stops if it is not; Backlight ids are strings, so answer a stable number for them."""
    if project.isdigit() and int(project) > 0:
        return project
    return str(int(hashlib.sha1(project.encode()).hexdigest()[:8], 16) % 1_000_000_000 + 1)


def _payload(
    state: AppState, secure_id: str, payload_id: object, variables: dict[str, Any] | str
) -> BrowserBatch:
    """Decode (if compressed) and convert one payload: on a worker thread, as its cost
    grows with the payload."""
    session = _session(state, secure_id)
    seq = _seq(payload_id)
    if isinstance(variables, str):
        variables = decode_compressed(variables, state.settings.max_decompressed_bytes)
    batch = payload_batch(session, seq, variables, time.time() * 1000)
    group_batch(state.store, batch)  # frontend errors by their original frames
    return batch


async def _push(
    state: AppState, secure_id: str, payload_id: object, variables: dict[str, Any] | str
) -> int:
    batch = await run_in_threadpool(_payload, state, secure_id, payload_id, variables)
    await state.store.write_browser(batch, batch.size() + 1)
    return 0


async def push_payload(_: Any, info: Any, **args: Any) -> int:
    state, _req = _ctx(info)
    return await _push(
        state, args["session_secure_id"], args.get("payload_id") or time.time_ns(), args
    )


async def push_payload_compressed(_: Any, info: Any, **args: Any) -> None:
    state, _req = _ctx(info)
    await _push(state, args["session_secure_id"], args["payload_id"], str(args["data"]))
    return None


async def _annotate(
    info: Any,
    secure_id: str,
    identify: Identify | None = None,
    track: list[TrackRecord] | None = None,
) -> str:
    state, _req = _ctx(info)
    session = _session(state, secure_id)
    await state.store.annotate_session(session.secure_id, identify, track or [])
    return session.secure_id


def _json(value: object) -> str | None:
    """JSON text within 64 KiB: a marked wrapper when over, never cut JSON."""
    return jsontext.capped(value, 65536)


async def identify_session(_: Any, info: Any, **args: Any) -> str:
    ident = Identify(
        time.time() * 1000, str(args["user_identifier"])[:512], _json(args.get("user_object"))
    )
    return await _annotate(info, args["session_secure_id"], identify=ident)


async def add_session_properties(_: Any, info: Any, **args: Any) -> str:
    sid = str(args["session_secure_id"])[:MAX_ID]
    track = [
        TrackRecord(
            sid, time.time() * 1000, "session properties", _json(args.get("properties_object"))
        )
    ]
    return await _annotate(info, sid, track=track)


async def add_session_feedback(_: Any, info: Any, **args: Any) -> str:
    sid = str(args["session_secure_id"])[:MAX_ID]
    props = {k: args.get(k) for k in ("user_name", "user_email", "verbatim")}
    ts = timestamp_ms(args.get("timestamp"), time.time() * 1000)
    return await _annotate(info, sid, track=[TrackRecord(sid, ts, "feedback", _json(props))])


async def push_metrics(_: Any, info: Any, **args: Any) -> int:
    state, _req = _ctx(info)
    state.metrics.rejected.labels("metrics_dropped").inc()
    return 0


RESOLVERS: dict[str, Resolver] = {
    "initializeSession": initialize_session,
    "pushPayload": push_payload,
    "pushPayloadCompressed": push_payload_compressed,
    "pushSessionEvents": push_payload_compressed,
    "identifySession": identify_session,
    "addSessionProperties": add_session_properties,
    "addSessionFeedback": add_session_feedback,
    "pushMetrics": push_metrics,
}


def _result_json(result: ExecutionResult) -> dict[str, Any]:
    out: dict[str, Any] = {"data": result.data}
    if result.errors:
        out["errors"] = [e.formatted for e in result.errors]
    return out


class _Refusal(Exception):
    """A GraphQL-level refusal: answered 200 with ``errors``, as GraphQL clients expect."""

    def __init__(self, errors: list[Any], metric: str | None = None) -> None:
        super().__init__(metric)
        self.errors, self.metric = errors, metric


def _refuse(message: str, code: str) -> _Refusal:
    return _Refusal([{"message": message, "extensions": {"code": code}}])


def _start(state: AppState, request: Request, raw: bytes) -> Any:
    """Everything whose cost grows with the request, on a worker thread: decompress, parse
    the body, parse the query within the caps, validate, coerce the variables and start
    executing. Returns an ExecutionResult or an awaitable of one (the resolvers' writes)."""
    body = decode_encoding(
        raw, request.headers.get("content-encoding"), state.settings.max_decompressed_bytes
    )
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _refuse("body is not JSON", "invalid_json") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        raise _refuse("body must be {query, variables, operationName}", "invalid_request")
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise _refuse("variables must be an object", "invalid_request")
    try:
        document = parse(payload["query"], max_tokens=limits.MAX_TOKENS)
        limits.check(document)
    except GraphQLError as err:
        raise _Refusal([err.formatted], "graphql_invalid") from None
    errors = validate(schema(), document, max_errors=10)
    if errors:
        raise _Refusal([e.formatted for e in errors], "graphql_invalid")
    op = payload.get("operationName")
    return execute(
        schema(),
        document,
        variable_values=variables,
        operation_name=op if isinstance(op, str) else None,
        context_value={"state": state, "request": request},
    )


async def public(request: Request) -> Response:
    state = get_state(request)
    try:
        if media_type(request) not in ("application/json", "text/plain", ""):
            raise ClientError(415, "unsupported_media_type", "send application/json")
        raw = await read_body(request, state.settings.max_body_bytes)
        result = await run_in_threadpool(_start, state, request, raw)
    except ClientError as err:
        state.metrics.rejected.labels(err.code).inc()
        return error_response(err)
    except _Refusal as refusal:
        if refusal.metric:
            state.metrics.rejected.labels(refusal.metric).inc()
        return json_response({"data": None, "errors": refusal.errors})
    if not isinstance(result, ExecutionResult):
        result = await result
    for gql_error in result.errors or []:
        original = gql_error.original_error
        if isinstance(original, ClientError):
            gql_error.extensions = {"code": original.code}
            gql_error.message = original.detail
    state.metrics.ingested.labels("highlight_graphql").inc()
    return json_response(_result_json(result))


routes = [Route("/public", public, methods=["POST"])]
