"""The review pages (/ui): `pages` (routes, sign-in, sessions), `views` (what each page shows, from the store
and the model) and `charts` (SVG charts for the insights page). Templates and static files: service/templates,
service/static."""

from service.ui.pages import STATIC, router

__all__ = ["STATIC", "router"]
