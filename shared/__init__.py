"""Code the engine service, the gateway and the UI share: settings, logging, wire schemas, CLI."""
