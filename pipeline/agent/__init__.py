"""sensorium.pipeline.agent."""
