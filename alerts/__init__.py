"""Alert rule engine and counselor alert workflow (see docs/alerts.md)."""
