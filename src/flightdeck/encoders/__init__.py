"""Local encoders (sentence and image embedding models), each loaded once per process."""
