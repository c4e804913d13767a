-- Operators and customers help themselves: admin tokens, an append-only audit trail,
-- disabled users, and the indexes that usage reports and ledger exports read by time.

-- Admin tokens are "<prefix>.<secret>" like API keys (prefix bga_), stored hashed; they
-- authenticate /admin/v1/* only. scope: read (GET) or write (everything).
CREATE TABLE admin_tokens (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL UNIQUE,
    secret_hash   TEXT NOT NULL,
    scope         TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);

-- Who changed what, when, and the state before and after. Append-only, like the ledger.
CREATE TABLE audit_log (
    id              BIGSERIAL PRIMARY KEY,
    at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor           TEXT NOT NULL,            -- "cli:<os user>", "admin:<token name>", "user:<id>"
    admin_token_id  BIGINT REFERENCES admin_tokens(id),
    action          TEXT NOT NULL,            -- e.g. "user.create", "credits.grant", "key.revoke"
    target          TEXT NOT NULL,            -- e.g. "user:12", "key:bgr_3f9c1a2b4d5e"
    before          JSONB,
    after           JSONB,
    request_id      TEXT
);
CREATE INDEX audit_log_target_idx ON audit_log (target, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- A disabled user's keys and tokens stop working at once; nothing is deleted.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;

-- Usage by day reads jobs by when they finished and the ledger by when rows were written.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX credit_ledger_created_idx ON credit_ledger (created_at, id);
