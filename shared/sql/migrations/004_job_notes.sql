-- What a job's worker wants its record to say besides its timings: e.g. that the photo's ICC
-- profile was unreadable and ignored (worker/colour.py). A JSON list of sentences; NULL: none.
ALTER TABLE jobs ADD COLUMN notes JSONB;
