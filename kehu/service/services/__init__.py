"""Use cases of the service app, one module per sub-domain (tickets, conversation, SLA, routing, inbound)."""
