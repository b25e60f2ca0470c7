"""Local encoders (sentence and image embedding models), each loaded once per process.

``sentence`` (all-MiniLM-L6-v2 and other sentence-transformers models), ``clip`` (CLIP-family
image/text models), ``multilingual`` (the Universal Sentence Encoder) and ``devices`` (the torch
device choice). Providers, the assistant, search and the media pipeline all load them here.
"""
