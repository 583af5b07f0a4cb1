"""Jobs over many leads, run by serve and the CLI: rescoring, and the process control they use."""
