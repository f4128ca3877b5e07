"""sensorium.stages.detect."""
