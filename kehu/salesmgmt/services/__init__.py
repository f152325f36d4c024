"""Services of the sales-management app, one module per area."""
