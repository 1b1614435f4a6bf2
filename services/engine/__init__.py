"""The vLLM engine: command-line building, model checks, the default model, supervision."""
