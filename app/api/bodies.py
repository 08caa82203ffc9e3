"""Request bodies under admission: a place among the requests at work and bytes of the shared
budget, for as long as the body is in use.

A request that finds no place, or a body that would pass the byte budget, is refused at once
(503: the shipper keeps the batch and sends it later). A sender still sending after the grace
period is set aside and gives its place back; when the set-aside pool is full too it is refused,
so that slow senders can hold no place at all. A body that takes longer than --body-timeout is
answered 408.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Final

import anyio
from starlette.requests import Request

from app.admission import Place
from app.api.problems import AT_CAPACITY
from app.api.state import Service
from app.errors import BodyTimeout, CodecError, Overloaded

# seconds a request may take to send its body before it gives its admission place back
SLOW_SENDER_GRACE: Final = 2.0


async def _read(request: Request, service: Service, place: Place) -> bytes:
    """The body; its bytes stay taken from the budget (the caller gives them back)."""
    settings = service.settings
    limit, budget = settings.max_body_bytes, service.bodies
    chunks: list[bytes] = []
    size = 0
    refused = False

    def grace_over() -> None:
        nonlocal refused
        if not place.set_aside():
            refused = True
            scope.cancel()

    handle = asyncio.get_running_loop().call_later(SLOW_SENDER_GRACE, grace_over)
    try:
        with anyio.fail_after(settings.body_timeout), anyio.CancelScope() as scope:
            async for chunk in request.stream():
                if size + len(chunk) > limit:
                    raise CodecError("too_large", f"the body is larger than {limit} bytes", {"limit": limit})
                if not budget.take(len(chunk)):
                    raise Overloaded("the service holds as many request bodies as it may; retry later")
                size += len(chunk)
                chunks.append(chunk)
    except TimeoutError as exc:
        budget.give_back(size)
        raise BodyTimeout(
            f"the body did not arrive within {settings.body_timeout:g} s ({size} bytes received)"
        ) from exc
    except BaseException:
        budget.give_back(size)
        raise
    finally:
        handle.cancel()
    if refused:
        budget.give_back(size)
        raise Overloaded("the body is arriving slowly and no place is left for a slow sender; retry later")
    return b"".join(chunks)


@contextlib.asynccontextmanager
async def admitted_body(request: Request, service: Service) -> AsyncIterator[bytes]:
    """The request's body, with a place and its bytes held until the block ends."""
    limit = service.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise CodecError("too_large", f"the body is larger than {limit} bytes", {"limit": limit})
    place = Place(service.admission)
    if not place.enter():
        raise Overloaded(AT_CAPACITY)
    try:
        body = await _read(request, service, place)
        try:
            if not place.come_back():  # a slow sender set aside finds no free place
                raise Overloaded(AT_CAPACITY)
            yield body
        finally:
            service.bodies.give_back(len(body))
    finally:
        place.release()
