"""sensorium.models.zoo."""
