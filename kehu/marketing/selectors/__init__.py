"""Marketing reads, scoped to what the user may see, one module per area (segments, …)."""
