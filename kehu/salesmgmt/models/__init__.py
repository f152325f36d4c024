"""Models of the salesmgmt app, one module per area, all imported here."""
