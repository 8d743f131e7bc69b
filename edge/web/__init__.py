"""The web layer: reads LiveState, never the models or the camera."""
