"""Storage: models, migrations, queries and the lead lifecycle (the only code that changes status)."""
