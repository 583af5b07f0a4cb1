"""HTTP routes of the ways in: web forms and form-builder webhooks (forms), inbound-email
webhooks (inbound). Each module's `*_routes` function is given what its routes need; bot.web
mounts them. Errors become answers in one place, ingest.http.errors."""
