"""sensorium.models.arch."""
