"""Edge: persistent patients, observations, twin versions, forecasts and the audit log."""
