-- Accounts, API keys, jobs and the append-only credit ledger.
CREATE TABLE users (
    id          BIGSERIAL PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A key is "<prefix>.<secret>": the prefix is public (listings, logs), the secret is stored hashed.
CREATE TABLE api_keys (
    id            BIGSERIAL PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users(id),
    prefix        TEXT NOT NULL UNIQUE,
    secret_hash   TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE jobs (
    id               UUID PRIMARY KEY,
    user_id          BIGINT NOT NULL REFERENCES users(id),
    api_key_id       BIGINT REFERENCES api_keys(id),
    -- queued/running hold a credit reservation; succeeded/failed do not.
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    params           JSONB NOT NULL,
    output_key       TEXT,
    error_code       TEXT,
    error_message    TEXT,
    timings          JSONB,
    attempts         INT NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    deadline_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX jobs_user_created_idx ON jobs (user_id, created_at DESC);
CREATE INDEX jobs_open_idx ON jobs (deadline_at) WHERE status IN ('queued', 'running');

-- Append-only. balance(user) = sum(amount) - count(open jobs).
CREATE TABLE credit_ledger (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    kind        TEXT NOT NULL CHECK (kind IN ('grant', 'charge', 'refund', 'correction')),
    amount      INT NOT NULL,
    job_id      UUID REFERENCES jobs(id),
    note        TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((kind = 'grant' AND amount > 0) OR (kind = 'charge' AND amount < 0)
           OR (kind = 'refund' AND amount > 0) OR kind = 'correction'),
    CHECK (kind NOT IN ('charge', 'refund') OR job_id IS NOT NULL)
);
CREATE INDEX credit_ledger_user_idx ON credit_ledger (user_id);
-- At most one charge and one refund per job: a retried commit or refund inserts nothing.
CREATE UNIQUE INDEX credit_ledger_job_kind_uq ON credit_ledger (job_id, kind)
    WHERE kind IN ('charge', 'refund');

CREATE FUNCTION credit_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'credit_ledger is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER credit_ledger_no_update BEFORE UPDATE OR DELETE ON credit_ledger
    FOR EACH ROW EXECUTE FUNCTION credit_ledger_append_only();
