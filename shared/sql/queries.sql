-- name: create_user
INSERT INTO users (email) VALUES (%(email)s) RETURNING id;

-- name: get_user
SELECT id, email, created_at, disabled_at, rate_limit_per_minute, max_concurrent
FROM users WHERE id = %(user_id)s;

-- name: create_api_key
INSERT INTO api_keys (user_id, prefix, secret_hash)
VALUES (%(user_id)s, %(prefix)s, %(secret_hash)s) RETURNING id;

-- name: get_api_key
-- The user's own limits come along: the request this key authenticates applies them.
SELECT k.id, k.user_id, k.prefix, k.secret_hash, k.revoked_at, u.disabled_at,
       u.rate_limit_per_minute, u.max_concurrent
FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = %(prefix)s;

-- name: key_is_active
-- A token works while its key is unrevoked and its user is not disabled. The user's own
-- limits come along: the request this token authenticates applies them.
SELECT u.rate_limit_per_minute, u.max_concurrent FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE k.id = %(key_id)s AND k.user_id = %(user_id)s AND k.revoked_at IS NULL
  AND u.disabled_at IS NULL;

-- name: touch_api_key
UPDATE api_keys SET last_used_at = now() WHERE id = %(key_id)s;

-- name: revoke_api_key
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE prefix = %(prefix)s
RETURNING id, user_id, revoked_at;

-- name: list_api_keys
SELECT prefix, created_at, last_used_at, revoked_at FROM api_keys
WHERE user_id = %(user_id)s ORDER BY id;

-- name: lock_user
-- Serialises every change of a user's available balance (see shared/credits.py).
SELECT pg_advisory_xact_lock(1, %(user_id)s::int);

-- name: available_balance
SELECT (SELECT coalesce(sum(amount), 0) FROM credit_ledger WHERE user_id = %(user_id)s)
     - (SELECT count(*) FROM jobs WHERE user_id = %(user_id)s
        AND status IN ('queued', 'running')) AS balance;

-- name: ledger_insert
INSERT INTO credit_ledger (user_id, kind, amount, job_id, note)
VALUES (%(user_id)s, %(kind)s, %(amount)s, %(job_id)s, %(note)s)
ON CONFLICT (job_id, kind) WHERE kind IN ('charge', 'refund') DO NOTHING
RETURNING id;

-- name: ledger_for_job
SELECT kind, amount FROM credit_ledger WHERE job_id = %(job_id)s ORDER BY id;

-- name: insert_job
INSERT INTO jobs (id, user_id, api_key_id, params, deadline_at)
VALUES (%(job_id)s, %(user_id)s, %(api_key_id)s, %(params)s,
        now() + make_interval(secs => %(deadline_seconds)s));

-- name: get_job
SELECT id, user_id, status, params, output_key, error_code, error_message, timings, notes,
       created_at, started_at, finished_at, deadline_at, attempts
FROM jobs WHERE id = %(job_id)s;

-- name: job_started
UPDATE jobs SET status = 'running', started_at = coalesce(started_at, now()),
       attempts = attempts + 1
WHERE id = %(job_id)s AND status IN ('queued', 'running')
RETURNING id, user_id, params;

-- name: job_succeeded
UPDATE jobs SET status = 'succeeded', output_key = %(output_key)s, timings = %(timings)s,
       notes = %(notes)s, finished_at = now()
WHERE id = %(job_id)s AND status IN ('queued', 'running')
RETURNING user_id;

-- name: job_failed
UPDATE jobs SET status = 'failed', error_code = %(error_code)s,
       error_message = %(error_message)s, timings = coalesce(%(timings)s, timings),
       notes = coalesce(%(notes)s, notes), finished_at = now()
WHERE id = %(job_id)s AND status IN ('queued', 'running')
RETURNING user_id;

-- name: overdue_jobs
SELECT id, user_id FROM jobs
WHERE status IN ('queued', 'running') AND deadline_at < now()
ORDER BY deadline_at LIMIT %(limit)s;

-- name: recent_jobs
SELECT id, status, error_code, created_at, finished_at FROM jobs
WHERE user_id = %(user_id)s ORDER BY created_at DESC LIMIT %(limit)s;

-- name: open_job_count
SELECT count(*) AS n FROM jobs WHERE status IN ('queued', 'running');

-- name: get_user_by_email
SELECT id FROM users WHERE email = %(email)s;

-- name: get_idempotency_key
SELECT job_id, request_hash, credits_after, created_at > now() - interval '24 hours' AS fresh
FROM idempotency_keys WHERE user_id = %(user_id)s AND key = %(key)s;

-- name: delete_idempotency_key
DELETE FROM idempotency_keys WHERE user_id = %(user_id)s AND key = %(key)s;

-- name: insert_idempotency_key
INSERT INTO idempotency_keys (user_id, key, request_hash, job_id, credits_after)
VALUES (%(user_id)s, %(key)s, %(request_hash)s, %(job_id)s, %(credits_after)s);
