"""Listener groups, each with `register(app, ctx)`: actions, commands, views, events."""
