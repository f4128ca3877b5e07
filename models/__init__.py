"""sensorium.models."""
