"""The Litestar gateway: keys, limits, proxy to the engines, usage, logs, metrics."""
