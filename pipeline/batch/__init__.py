"""sensorium.pipeline.batch."""
