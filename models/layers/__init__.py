"""sensorium.models.layers."""
