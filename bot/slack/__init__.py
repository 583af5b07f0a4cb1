"""LeadBot's Slack app: Bolt listeners, Block Kit rendering and the outbox sender."""
