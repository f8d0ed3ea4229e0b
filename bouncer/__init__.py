"""Bouncer: a self-hostable authentication server for Django REST Framework APIs."""

#: The one place the version lives: pyproject.toml reads it (setuptools'
#: dynamic version), the OpenAPI schema and /healthz show it.
__version__ = "0.1.0"
