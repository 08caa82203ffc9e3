"""Optional bearer-token auth, compared in constant time."""

import hmac
from typing import Annotated

from fastapi import Depends, Request

from app.api.state import Service
from app.errors import Unauthorized


def service_of(request: Request) -> Service:
    service: Service = request.state.service
    return service


ServiceDep = Annotated[Service, Depends(service_of)]


def token_ok(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    # compare_digest runs in time independent of where the strings differ
    return hmac.compare_digest(given.strip().encode(), token.encode()) and scheme.lower() == "bearer"


def require_token(request: Request, service: ServiceDep) -> None:
    secret = service.settings.token
    if secret is None:
        return
    if not token_ok(request.headers.get("authorization"), secret.get_secret_value()):
        raise Unauthorized("missing or wrong bearer token")


def require_token_for_metrics(request: Request, service: ServiceDep) -> None:
    if service.settings.protect_metrics:
        require_token(request, service)


Authorized = Annotated[None, Depends(require_token)]
MetricsAuthorized = Annotated[None, Depends(require_token_for_metrics)]
