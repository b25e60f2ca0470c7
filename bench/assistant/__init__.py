"""Assistant benchmarks: extraction quality (F1 on labelled pages) and context latency."""
