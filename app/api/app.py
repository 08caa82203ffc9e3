"""The app factory and its lifespan: build the table, metrics and state once; watch the rule files;
reload on SIGHUP."""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp, Receive, Scope, Send

from app import __version__
from app.admission import Admission, BodyBudget
from app.api import problems
from app.api.openapi import DOCUMENTED_MODELS
from app.api.routes import router
from app.api.state import Service
from app.engine import Engine
from app.metrics import Metrics
from app.relay.forwarder import Forwarder
from app.sampling import UnclassifiedSample
from app.settings import Settings
from app.tables import TableHolder

log = logging.getLogger("logenrich")

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class Observe:
    """Times every request into the latency histogram and writes one JSON access-log line."""

    def __init__(self, app: ASGIApp, access_log: bool) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - start
            path = scope["path"]
            service: Service | None = scope.get("state", {}).get("service")
            if service is not None:
                endpoint = (
                    path
                    if path in _ENDPOINTS
                    else "/v1/forward"
                    if path.startswith("/v1/forward/")
                    else "other"
                )
                service.metrics.latency.labels(endpoint, f"{status // 100}xx").observe(elapsed)
            if self.access_log and path not in ("/healthz", "/readyz", "/metrics"):
                client = scope.get("client")
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": path,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "client": client[0] if client else None,
                    },
                )


_ENDPOINTS = frozenset(
    {
        "/v1/enrich",
        "/v1/forward",
        "/v1/rules",
        "/v1/reload",
        "/v1/unclassified",
        "/v1/unclassified/draft",
        "/healthz",
        "/readyz",
        "/metrics",
    }
)


async def _probe(service: Service, interval: float) -> None:
    """Check every downstream's reachability, for /readyz and logenrich_downstream_up."""
    forwarder = service.forwarder
    assert forwarder is not None
    while True:
        for name, downstream in forwarder.downstreams.items():
            error = await forwarder.reachable(downstream)
            if error != service.downstream_errors.get(name, "unknown"):
                if error is None:
                    log.info("downstream reachable", extra={"downstream": name})
                else:
                    log.warning("downstream unreachable", extra={"downstream": name, "error": error})
            service.downstream_errors[name] = error
            service.metrics.downstream_up.labels(name).set(0 if error else 1)
        await asyncio.sleep(interval)


async def _watch(service: Service, interval: float) -> None:
    """Reload when a rule file changes (Kubernetes ConfigMap updates swap a symlink)."""

    while True:
        await asyncio.sleep(interval)
        try:
            changed = await anyio.to_thread.run_sync(service.tables.changed)
        except Exception:  # a watcher must never die
            log.exception("rule file check failed")
            continue
        if changed:
            await service.reload("file-change")


def create_app(settings: Settings, loaded: Engine | None = None) -> FastAPI:
    """A new app; it loads its table at startup and refuses to start when the table does not check
    (`loaded`: the table already loaded for these settings, served as it is)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        tables = TableHolder(
            list(settings.rules), settings.builtin, settings.enrich_options, settings.engine, loaded
        )
        metrics = Metrics()
        metrics.set_table(tables.current)
        service = Service(
            settings,
            tables,
            metrics,
            Admission(settings.max_pending),
            BodyBudget(settings.max_buffered_bytes),
        )
        if settings.sample_unclassified > 0:
            service.sample = UnclassifiedSample(
                settings.sample_unclassified,
                settings.sample_unclassified_examples,
                settings.enrich_options,
                settings.limits,
                lambda key, n: metrics.unclassified.labels(key).inc(n),
            )
            service.sample.start()
        downstreams, default = settings.downstreams()
        if downstreams:
            service.forwarder = Forwarder(downstreams, default, settings.retry_after)
        engine = tables.current
        log.info(
            "rule table loaded",
            extra={
                "trigger": "start",
                "table": engine.table.version,
                "rules": len(engine.table.rules),
                "engine": engine.name,
            },
        )
        if engine.name != settings.engine:
            log.warning(
                "the native engine is not available (the extension did not import); "
                "serving on the Python engine",
                extra={"engine": engine.name, "wanted": settings.engine},
            )
        tasks: list[asyncio.Task[None]] = []
        loop = asyncio.get_running_loop()
        if settings.reload_interval > 0:
            tasks.append(asyncio.create_task(_watch(service, settings.reload_interval)))
        if service.forwarder is not None and settings.probe_interval > 0:
            tasks.append(asyncio.create_task(_probe(service, settings.probe_interval)))
        hup = False
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):  # not the main thread
            loop.add_signal_handler(
                signal.SIGHUP, lambda: tasks.append(asyncio.create_task(_reload_quietly(service, "sighup")))
            )
            hup = True
        try:
            yield {"service": service}
        finally:
            service.shutting_down = True
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)
            for task in tasks:
                task.cancel()
            if service.forwarder is not None:
                await service.forwarder.aclose()
            if service.sample is not None:
                await anyio.to_thread.run_sync(service.sample.close)

    app = FastAPI(
        title="logenrich",
        version=__version__,
        summary="Classify JupyterHub-family log lines in a Vector / Fluent Bit pipeline.",
        lifespan=lifespan,
    )
    app.include_router(router)
    problems.install(app)
    ui = Path(str(resources.files("app.ui")))
    app.mount("/ui/static", StaticFiles(directory=ui), name="ui-static")

    @app.get("/", include_in_schema=False)
    @app.get("/ui/", include_in_schema=False)
    async def page() -> FileResponse:
        """The catalog explorer: the loaded table, a try-it box, counts since start. Its own
        script and style only: nothing inline, nothing from elsewhere, no frames, no forms sent
        anywhere (the page holds the bearer token in session storage)."""
        return FileResponse(
            ui / "index.html", media_type="text/html", headers={"Content-Security-Policy": PAGE_CSP}
        )

    app.add_middleware(Observe, access_log=settings.access_log)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            _, defs = models_json_schema(
                [(m, "validation") for m in DOCUMENTED_MODELS], ref_template="#/components/schemas/{model}"
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _reload_quietly(service: Service, trigger: str) -> None:
    try:
        await service.reload(trigger)
    except Exception:
        log.exception("reload failed")


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings from LOGENRICH_* variables."""
    from app.logs import configure
    from app.memory import limit_malloc_arenas

    limit_malloc_arenas()
    settings = Settings.from_environment()
    configure(settings.log_level)
    return create_app(settings)
