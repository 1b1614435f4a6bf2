"""Wire schemas used by more than one part (gateway, UI, CLI)."""
