"""sensorium.models.data."""
