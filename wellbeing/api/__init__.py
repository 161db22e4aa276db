"""The REST API: thin DRF views over the actions in wellbeing.actions and consent.actions."""
