"""Sales use cases, one module per sub-domain (leads, assignment, conversion, web forms, SLA, opportunities).

Every function is `<entity>_<action>(*, ..., by)`, writes through kehu.core.records (rights, scope, field
rights, locking, audit) or takes the same locks itself, and puts customer events on the timeline."""
