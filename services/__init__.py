"""Long-running services Tollgate supervises (today: the vLLM engine)."""
