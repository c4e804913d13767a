-- Queries of the admin API, the customer's self-service routes and the audit trail.
-- Pages are keyset pages: "after this id" (or created_at, id), never OFFSET.

-- name: admin_token_create
INSERT INTO admin_tokens (name, prefix, secret_hash, scope)
VALUES (%(name)s, %(prefix)s, %(secret_hash)s, %(scope)s)
RETURNING id, name, prefix, scope, created_at;

-- name: admin_token_get
SELECT id, name, prefix, secret_hash, scope, revoked_at FROM admin_tokens
WHERE prefix = %(prefix)s;

-- name: admin_token_touch
UPDATE admin_tokens SET last_used_at = now() WHERE id = %(token_id)s;

-- name: admin_token_revoke
UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE prefix = %(prefix)s
RETURNING id, name, prefix, scope, created_at, last_used_at, revoked_at;

-- name: admin_token_list
SELECT id, name, prefix, scope, created_at, last_used_at, revoked_at FROM admin_tokens
WHERE %(prefix)s::text IS NULL OR prefix LIKE %(prefix)s || '%%'
ORDER BY id;

-- name: audit_insert
INSERT INTO audit_log (actor, admin_token_id, action, target, before, after, request_id)
VALUES (%(actor)s, %(admin_token_id)s, %(action)s, %(target)s, %(before)s, %(after)s,
        %(request_id)s)
RETURNING id, at;

-- name: audit_list
SELECT id, at, actor, admin_token_id, action, target, before, after, request_id
FROM audit_log
WHERE (%(before_id)s::bigint IS NULL OR id < %(before_id)s)
  AND (%(target)s::text IS NULL OR target = %(target)s)
  AND (%(action)s::text IS NULL OR action = %(action)s)
ORDER BY id DESC LIMIT %(limit)s;

-- name: user_list
SELECT u.id, u.email, u.created_at, u.disabled_at FROM users u
WHERE (%(after_id)s::bigint IS NULL OR u.id > %(after_id)s)
  AND (%(email)s::text IS NULL OR u.email ILIKE %(email)s ESCAPE '\')
ORDER BY u.id LIMIT %(limit)s;

-- name: user_set_disabled
UPDATE users SET disabled_at = CASE WHEN %(disabled)s THEN coalesce(disabled_at, now()) END
WHERE id = %(user_id)s
RETURNING id, email, created_at, disabled_at;

-- name: user_limits_lock
SELECT id, rate_limit_per_minute, max_concurrent FROM users WHERE id = %(user_id)s FOR UPDATE;

-- name: user_set_limits
-- A limit not named keeps its value; a named one takes the new value (NULL: the default).
UPDATE users SET
    rate_limit_per_minute = CASE WHEN %(set_rate)s THEN %(rate_limit_per_minute)s::int
                                 ELSE rate_limit_per_minute END,
    max_concurrent = CASE WHEN %(set_concurrent)s THEN %(max_concurrent)s::int
                          ELSE max_concurrent END
WHERE id = %(user_id)s
RETURNING id, rate_limit_per_minute, max_concurrent;

-- name: key_list
SELECT k.id, k.user_id, k.prefix, k.created_at, k.last_used_at, k.revoked_at FROM api_keys k
WHERE (%(after_id)s::bigint IS NULL OR k.id > %(after_id)s)
  AND (%(prefix)s::text IS NULL OR k.prefix LIKE %(prefix)s || '%%')
  AND (%(user_id)s::bigint IS NULL OR k.user_id = %(user_id)s)
ORDER BY k.id LIMIT %(limit)s;

-- name: key_get
SELECT id, user_id, prefix, created_at, last_used_at, revoked_at FROM api_keys
WHERE prefix = %(prefix)s;

-- name: key_active_count
SELECT count(*) AS n FROM api_keys WHERE user_id = %(user_id)s AND revoked_at IS NULL;

-- name: lock_user_keys
-- Serialises key changes of one user (the "not your last key" check and the revoke).
SELECT pg_advisory_xact_lock(2, %(user_id)s::int);

-- name: usage_by_day
-- Per user and UTC day: jobs by the day they finished, credits by the day the row was written.
-- A failed job holds no ledger row (its reservation was released), so `refunded` counts
-- charges given back after a success (e.g. an operator's refund).
WITH j AS (
    SELECT user_id, (finished_at AT TIME ZONE 'UTC')::date AS day,
           count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE status = 'failed') AS failed
    FROM jobs
    WHERE finished_at >= %(start)s AND finished_at < %(end)s
      AND (%(user_id)s::bigint IS NULL OR user_id = %(user_id)s)
    GROUP BY 1, 2
), l AS (
    SELECT user_id, (created_at AT TIME ZONE 'UTC')::date AS day,
           coalesce(-sum(amount) FILTER (WHERE kind = 'charge'), 0) AS charged,
           coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) AS refunded
    FROM credit_ledger
    WHERE kind IN ('charge', 'refund') AND created_at >= %(start)s AND created_at < %(end)s
      AND (%(user_id)s::bigint IS NULL OR user_id = %(user_id)s)
    GROUP BY 1, 2
)
SELECT user_id, day, coalesce(j.succeeded, 0) AS succeeded, coalesce(j.failed, 0) AS failed,
       coalesce(l.charged, 0) AS credits_charged, coalesce(l.refunded, 0) AS credits_refunded
FROM j FULL JOIN l USING (user_id, day)
ORDER BY day, user_id;

-- name: ledger_export
SELECT l.id, l.created_at, l.user_id, u.email, l.kind, l.amount, l.job_id, l.note
FROM credit_ledger l JOIN users u ON u.id = l.user_id
WHERE l.created_at >= %(start)s AND l.created_at < %(end)s
  AND (%(user_id)s::bigint IS NULL OR l.user_id = %(user_id)s)
ORDER BY l.created_at, l.id;

-- name: job_list_for_user
-- credits_charged: the job's charge net of its refund, from the ledger (0 while unfinished).
SELECT id, status, params, output_key, error_code, error_message, created_at, finished_at,
       (SELECT coalesce(-sum(l.amount), 0)::int FROM credit_ledger l
        WHERE l.job_id = jobs.id AND l.kind IN ('charge', 'refund')) AS credits_charged
FROM jobs
WHERE user_id = %(user_id)s
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(before_at)s::timestamptz IS NULL OR (created_at, id) < (%(before_at)s, %(before_id)s))
ORDER BY created_at DESC, id DESC LIMIT %(limit)s;

-- name: job_get_admin
SELECT j.id, j.user_id, u.email, j.api_key_id, k.prefix AS key_prefix, j.status, j.params,
       j.output_key, j.error_code, j.error_message, j.timings, j.notes, j.attempts, j.created_at,
       j.started_at, j.finished_at, j.deadline_at
FROM jobs j JOIN users u ON u.id = j.user_id LEFT JOIN api_keys k ON k.id = j.api_key_id
WHERE j.id = %(job_id)s;

-- name: job_ledger
SELECT id, kind, amount, note, created_at FROM credit_ledger WHERE job_id = %(job_id)s
ORDER BY id;

-- name: own_keys
SELECT id, prefix, created_at, last_used_at, revoked_at FROM api_keys
WHERE user_id = %(user_id)s ORDER BY id;
