"""The on-device daemon: camera, int8 face detector and emotion model, web API."""
