"""Alert rule engine and counselor alert workflow (issue 6: not built yet)."""
