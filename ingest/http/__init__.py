"""HTTP routes of the ways in; each module registers itself with bot.web.register_routes."""

from ingest.http import forms, inbound  # noqa: F401
