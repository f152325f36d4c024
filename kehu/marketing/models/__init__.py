"""Models of the marketing app, one module per area, all imported here."""
