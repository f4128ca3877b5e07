"""sensorium.stages.track: multi-object tracking (ByteTrack, 2-D and metric 3-D; face names voted over a track)."""
