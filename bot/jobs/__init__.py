"""Jobs over many leads, run by `serve`'s scheduler and by the CLI: rescoring, Slack SLA."""
