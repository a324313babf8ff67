"""`loadgen import`: send a customer's historical events safely (docs/import.md).

reader (the file, streamed, with lines and offsets) -> mapping (the replay mapping onto
the API, deterministic ids) -> batches (API limits, per-distinct_id order) -> pacing
(ramp, aiolimiter cap) -> sender (retries, dead letters) -> session (anyio task group,
acknowledgements, checkpoints) -> result (the reconciliation artifact). `guarding` gives
the rate the guard allows; `runner` puts an import together from start to reconciliation.
"""
