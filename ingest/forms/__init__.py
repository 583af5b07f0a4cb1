"""Web forms and provider webhooks: field mapping, provider payloads, the stored-input reader."""

from ingest.forms.fields import MappedForm, map_fields

__all__ = ["MappedForm", "map_fields"]
