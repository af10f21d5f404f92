"""Error groups (with sparkline and state actions) and the error group page: users and
sessions affected, breakdowns, the last 24 hours by hour, instances with their user, URL
and browser (``ui/errorfacts.py`` over ``Store.error_group_facts``)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backlight_server.query.errorfacts import SAMPLE
from backlight_server.state import get_state
from backlight_server.store.queries import ErrorGroupQuery, GroupState
from backlight_server.symbolicate.apply import symbolicate_group
from backlight_server.ui import errorfacts, params
from backlight_server.ui.render import not_found, page, render

PAGE_SIZE = 50
STATES: tuple[GroupState, ...] = ("open", "resolved", "ignored")


@page
def groups_list(request: Request) -> Response:
    state = params.choice(request, "state", (*STATES, "all"))
    state = "open" if state is None else state
    store = get_state(request).store
    data = store.list_error_groups(
        ErrorGroupQuery(
            state=next((s for s in STATES if s == state), None),
            limit=PAGE_SIZE,
            offset=params.integer(request, "offset"),
        )
    )
    # an empty list says "none open" when other groups exist, "nothing recorded" otherwise
    any_groups = bool(data["groups"]) or (
        state != "all" and bool(store.list_error_groups(ErrorGroupQuery(limit=1))["groups"])
    )
    return render(
        request,
        "errors.html",
        nav="errors",
        data=data,
        any_groups=any_groups,
        state=state,
        states=(*STATES, "all"),
        page_size=PAGE_SIZE,
    )


@page
def group_page(request: Request) -> Response:
    try:
        group_id = int(request.path_params["group_id"])
    except ValueError:
        return not_found(request, "that error group")
    if not 0 < group_id < 2**53:  # ids derive from fingerprints: 1 .. 2**53-1 (store/ids.py)
        return not_found(request, "that error group")
    store = get_state(request).store
    data = store.get_error_group(group_id, 100)
    if data is None:
        alias = store.group_aliases([group_id]).get(group_id)
        if alias is not None:  # merged by a source map (docs/sourcemaps.md, "Grouping")
            return RedirectResponse(f"/errors/{alias[0]}", status_code=307)
        return not_found(request, f"error group {group_id}")
    symbolicate_group(store, data)
    facts = store.error_group_facts(group_id, time.time() * 1000, SAMPLE)
    instances = data["instances"]
    playable = next((i for i in instances if i["session_id"]), None)
    bars, peak = errorfacts.hourly_bars(facts)
    return render(
        request,
        "error_group.html",
        nav="errors",
        g=data["group"],
        instances=instances,
        latest=instances[0] if instances else None,
        playable=playable,
        states=STATES,
        facts=facts,
        breakdowns=errorfacts.breakdowns(facts),
        bars=bars,
        peak=peak,
        chart=errorfacts,
        context=errorfacts.instance_context(facts),
        source_words=errorfacts.source_words,
    )


routes = [
    Route("/errors", groups_list, methods=["GET"]),
    Route("/errors/{group_id}", group_page, methods=["GET"]),
]
