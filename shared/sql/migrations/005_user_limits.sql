-- Limits per customer, set by an operator (admin API / CLI). NULL: the deployment's default
-- (RATE_LIMIT_PER_MINUTE, MAX_CONCURRENT_PER_USER); 0: no limit for this user.
ALTER TABLE users ADD COLUMN rate_limit_per_minute INT
    CHECK (rate_limit_per_minute BETWEEN 0 AND 1000000);
ALTER TABLE users ADD COLUMN max_concurrent INT
    CHECK (max_concurrent BETWEEN 0 AND 100000);
