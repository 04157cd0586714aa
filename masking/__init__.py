"""Masking at ingest: secrets never reach storage, the stream, exports or logs.

`engine.Masker` walks an event once and masks in place (logs.validation calls
it before anything else sees the event); `rules` holds the built-in key names
and value patterns; `patterns` runs a tenant's own value patterns on RE2;
`policy` validates and compiles a tenant's policy; `models.MaskingPolicy`
stores it; `selectors.masker_for(tenant)` is the per-process cache that ingest
reads (invalidated by the tenant row's `masking_version`, which every request
already loads); `services.policy_put` changes it. docs/adr/0015.
"""
