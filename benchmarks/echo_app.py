"""The baseline for the service benchmark: the same stack (uvicorn + orjson parse and serialise)
doing nothing else. `uvicorn benchmarks.echo_app:app`."""

from typing import Any

import orjson


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    out = orjson.dumps(orjson.loads(body))
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": out})
