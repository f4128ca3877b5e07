"""sensorium.pipeline.stream."""
