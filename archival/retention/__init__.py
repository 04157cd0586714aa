"""Retention: archive (per the tenant's policy), verify, then delete expired events.

- `planning`: the cutoff (`before`), the dry run, and starting a job (one step per
  tenant and UTC day, one SQS message per step).
- `steps`: what a worker does with one step: claim, archive and verify, delete in
  chunks, finish; resumable from the step's phase.
- `deletion`: bounded, short, lock-timed deletes of one tenant's day, with the
  events' idempotency keys and stats-rollup marks.
- `dropping`: whole daily partitions detached and dropped once every row in
  them is past its tenant's retention and archived (or the day is empty).
- `hooks`: what else must follow deleted events (the search index's entry point).

Decisions and guarantees: docs/adr/0018-retention-jobs-on-sqs.md.
"""
