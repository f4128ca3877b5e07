"""sensorium.models.hub."""
