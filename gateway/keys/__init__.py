"""API keys: generation, hashed storage, constant-time lookup with a short in-process cache."""
