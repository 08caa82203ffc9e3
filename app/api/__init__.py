"""The HTTP adapter. Only this package imports FastAPI / Starlette."""

from app.api.app import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
