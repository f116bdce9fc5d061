-- Behaviour events behind the hospital internet influence index:
-- kind 1 browse (page view), 2 online service, 3 doctor-patient message, 4 review.
-- Ids only; exported to Parquet by `ihos index export`.
CREATE TABLE analytics_events (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    kind BIGINT NOT NULL,
    org_id TEXT NOT NULL,
    department_id TEXT,
    practitioner_id TEXT,
    rating BIGINT
);
CREATE INDEX analytics_events_at ON analytics_events(at);
