"""sensorium.pipeline.serve."""
