"""sensorium.pipeline."""
