"""First-party tracking: events from the site's script, tracked links, and imported events.

Readers here are pure (`events`, `links`, `bots`, `imports`, `script`); `record` stores what
they read through the same intake as forms and mail (ingest.intake), and `ingest.http.tracking`
serves the routes. See docs/tracking.md.
"""
