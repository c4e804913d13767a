-- Idempotency-Key: a retried request with the same key (within 24 h) replays the first job.
CREATE TABLE idempotency_keys (
    user_id        BIGINT NOT NULL REFERENCES users(id),
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    job_id         UUID NOT NULL REFERENCES jobs(id),
    credits_after  INT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
