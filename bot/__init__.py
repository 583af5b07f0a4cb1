"""The bot: settings, the `leadbot` command, the HTTP app, the outbox dispatcher and the Slack app."""
