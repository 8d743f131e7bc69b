"""The face detector: MediaPipe's BlazeFace, rebuilt in TensorFlow and converted to full int8."""
