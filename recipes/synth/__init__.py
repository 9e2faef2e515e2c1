"""The synthetic hand (and hand-object) generator: articulated hands, grasps, sensor noise, frames to shards."""
