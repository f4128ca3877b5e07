"""sensorium.models.training."""
