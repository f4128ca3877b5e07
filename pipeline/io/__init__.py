"""sensorium.pipeline.io."""
