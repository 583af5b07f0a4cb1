"""The lead page and the dashboard: read-only HTML behind signed, expiring links (docs/dashboard.md)."""
