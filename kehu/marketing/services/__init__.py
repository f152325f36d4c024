"""Marketing use cases that write, one module per area (segments, …)."""
