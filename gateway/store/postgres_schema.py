"""The PostgreSQL engine's schema: the same tables, columns and versions as the SQLite engine's
(sqlite_schema.py), so one query builder and one set of row conversions serve both. Times are the same
fixed-width UTC ISO 8601 text, whose order is time order.

`gateway_schema.version` is the schema version; `MIGRATIONS[n]` takes a database from version n to n + 1.
Instances starting together migrate once: the first takes a transaction-scoped advisory lock, the others
wait for it and find the work done.
"""

from __future__ import annotations

from .rows import CONSENT_BASIS_COLUMN, DNC_TABLES, OPTOUT_REQUESTS_TABLE, RND_TABLES, TEXT_STATUS_TABLE

MIGRATION_LOCK = 0x6761_7465  # pg_advisory_xact_lock key: "gate"

_V1 = """
CREATE TABLE suppressions (
    id bigserial PRIMARY KEY, channel text NOT NULL, address_hash text NOT NULL, address text, scope text NOT NULL,
    reason text NOT NULL, source text, created_at text NOT NULL, expires_at text);
CREATE UNIQUE INDEX suppressions_entry ON suppressions (channel, address_hash, scope, reason);
CREATE INDEX suppressions_scope ON suppressions (scope, channel);
CREATE TABLE consents (
    id bigserial PRIMARY KEY, channel text NOT NULL, address_hash text NOT NULL, address text, scope text NOT NULL,
    level text NOT NULL, source text, evidence text, obtained_at text NOT NULL, expires_at text, revoked_at text);
CREATE INDEX consents_address ON consents (channel, address_hash, scope);
CREATE TABLE decisions (
    id text PRIMARY KEY, at text NOT NULL, channel text NOT NULL, sender text NOT NULL, recipient text NOT NULL,
    recipient_hash text, category text, verdict text NOT NULL, codes text, violations text, excerpt text,
    size integer, upstream text);
CREATE INDEX decisions_at ON decisions (at);
CREATE INDEX decisions_verdict_at ON decisions (verdict, at);
CREATE INDEX decisions_sender_at ON decisions (sender, at);
CREATE INDEX decisions_recipient_hash ON decisions (recipient_hash);
CREATE TABLE sends (
    id bigserial PRIMARY KEY, channel text NOT NULL, address_hash text NOT NULL, scope text NOT NULL,
    category text NOT NULL, sent_at text NOT NULL);
CREATE INDEX sends_address ON sends (channel, address_hash, scope, sent_at);
"""

_V2 = """
CREATE TABLE outbox (
    id text PRIMARY KEY, at text NOT NULL, sender text NOT NULL, recipient text NOT NULL, from_number text,
    body text NOT NULL, category text NOT NULL, fields text);
CREATE INDEX outbox_at ON outbox (at);
CREATE TABLE deferred (
    id text PRIMARY KEY, created_at text NOT NULL, send_at text NOT NULL, sender text NOT NULL,
    recipient text NOT NULL, recipient_hash text, from_number text, body text NOT NULL, category text NOT NULL,
    fields text, api text, state text NOT NULL, attempts integer, claimed_at text, last_error text);
CREATE INDEX deferred_due ON deferred (state, send_at);
"""

# Counts per day and code, kept by statement-level triggers: one aggregated upsert per statement, however
# many decisions it inserts or deletes (the log inserts a whole group commit in one statement). Each
# connection counts (up and down) into its own shard of rows, by its backend pid, so that instances writing
# decisions at once never queue on one counter row's lock; a shard may go below zero, a summary adds the
# shards up. An UPDATE takes its old rows out and puts its new rows in (PostgreSQL allows no column list on
# a trigger with transition tables; an erasure's UPDATE so counts nothing net).
_V3 = """
CREATE TABLE daily_counts (
    day text NOT NULL, sender text NOT NULL, channel text NOT NULL, verdict text NOT NULL, code text NOT NULL,
    shard integer NOT NULL, n bigint NOT NULL, PRIMARY KEY (day, sender, channel, verdict, code, shard));
CREATE FUNCTION gateway_codes(violations text) RETURNS SETOF text LANGUAGE sql IMMUTABLE AS $$
    SELECT DISTINCT COALESCE(v->>'code', '') FROM jsonb_array_elements(COALESCE(violations, '[]')::jsonb) v
    UNION SELECT '' WHERE jsonb_array_length(COALESCE(violations, '[]')::jsonb) = 0
$$;
CREATE FUNCTION gateway_count_decisions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO daily_counts AS t (day, sender, channel, verdict, code, shard, n)
        SELECT substr(d.at, 1, 10), d.sender, d.channel, d.verdict, c, pg_backend_pid() % 16, -count(*)
        FROM gone d, gateway_codes(d.violations) c GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (day, sender, channel, verdict, code, shard) DO UPDATE SET n = t.n + EXCLUDED.n;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO daily_counts AS t (day, sender, channel, verdict, code, shard, n)
        SELECT substr(d.at, 1, 10), d.sender, d.channel, d.verdict, c, pg_backend_pid() % 16, count(*)
        FROM fresh d, gateway_codes(d.violations) c GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (day, sender, channel, verdict, code, shard) DO UPDATE SET n = t.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER decisions_counted_insert AFTER INSERT ON decisions REFERENCING NEW TABLE AS fresh
    FOR EACH STATEMENT EXECUTE FUNCTION gateway_count_decisions();
CREATE TRIGGER decisions_counted_delete AFTER DELETE ON decisions REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION gateway_count_decisions();
CREATE TRIGGER decisions_counted_update AFTER UPDATE ON decisions REFERENCING OLD TABLE AS gone NEW TABLE AS fresh
    FOR EACH STATEMENT EXECUTE FUNCTION gateway_count_decisions();
INSERT INTO daily_counts (day, sender, channel, verdict, code, shard, n)
    SELECT substr(d.at, 1, 10), d.sender, d.channel, d.verdict, c, 0, count(*)
    FROM decisions d, gateway_codes(d.violations) c GROUP BY 1, 2, 3, 4, 5;
CREATE TABLE audit (
    id bigserial PRIMARY KEY, at text NOT NULL, actor text NOT NULL, action text NOT NULL, channel text NOT NULL,
    address_hash text NOT NULL, address text, scope text NOT NULL, detail text);
CREATE INDEX audit_address ON audit (address_hash, at);
CREATE INDEX audit_at ON audit (at);
"""

# Searching for part of an address or subject: pg_trgm's GIN index serves LIKE '%…%' directly. pg_trgm is
# a trusted extension (PostgreSQL 13+): a database owner may create it. Where that is refused, search
# still works, by reading the log.
TRIGRAM_INDEX = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS decisions_text ON decisions
    USING gin (lower(recipient) gin_trgm_ops, lower(excerpt) gin_trgm_ops);
"""

# Version 4 is the SQLite engine's background search index. PostgreSQL's GIN index defers its own work
# (its pending list), so nothing changes here; the version numbers stay in step.
_V4 = "SELECT 1"

# Version 5: each email decision's Message-ID, for retries of what was relayed (gateway/mail/retries.py).
_V5 = """
ALTER TABLE decisions ADD COLUMN message_id text NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN digest text NOT NULL DEFAULT '';
CREATE INDEX decisions_message ON decisions (sender, message_id) WHERE message_id <> '';
"""

# Version 6: what must act once (webhooks' MessageSids, signed-out console sessions).
_V6 = """
CREATE TABLE seen (kind text NOT NULL, key text NOT NULL, at text NOT NULL, PRIMARY KEY (kind, key));
CREATE INDEX seen_at ON seen (kind, at);
"""

# Version 7: a decision for an address erased meanwhile (a journal moved in late, a refusal of an erased
# address) is written as erasure leaves one, whoever writes it (the SQLite engine does it in its writer).
_V7 = """
CREATE FUNCTION gateway_mask_erased() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.recipient NOT LIKE 'sha256:%' AND EXISTS (SELECT 1 FROM suppressions WHERE channel = NEW.channel
            AND address_hash = NEW.recipient_hash AND reason = 'erased') THEN
        NEW.recipient := 'sha256:' || NEW.recipient_hash;
        NEW.excerpt := '';
        NEW.upstream := '';
        NEW.violations := COALESCE((SELECT jsonb_agg(jsonb_build_object('code', v->>'code', 'message', ''))
            FROM jsonb_array_elements(COALESCE(NEW.violations, '[]')::jsonb) v)::text, '[]');
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER decisions_masked_if_erased BEFORE INSERT OR UPDATE OF recipient ON decisions
    FOR EACH ROW EXECUTE FUNCTION gateway_mask_erased();
"""

# Version 8: Twilio's Messages read API answered from the log (see sqlite_schema._v8); erasure blanks a
# text's body and the provider's error message (which may quote the number) too (base.erased_detail).
_V8 = f"""
ALTER TABLE decisions ADD COLUMN origin text NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN detail text NOT NULL DEFAULT '';
{TEXT_STATUS_TABLE}
CREATE OR REPLACE FUNCTION gateway_mask_erased() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.recipient NOT LIKE 'sha256:%' AND EXISTS (SELECT 1 FROM suppressions WHERE channel = NEW.channel
            AND address_hash = NEW.recipient_hash AND reason = 'erased') THEN
        NEW.recipient := 'sha256:' || NEW.recipient_hash;
        NEW.excerpt := '';
        NEW.upstream := '';
        NEW.detail := CASE WHEN NEW.detail = '' THEN '' ELSE (NEW.detail::jsonb - 'body' - 'error_message' - 'evidence')::text END;
        NEW.violations := COALESCE((SELECT jsonb_agg(jsonb_build_object('code', v->>'code', 'message', ''))
            FROM jsonb_array_elements(COALESCE(NEW.violations, '[]')::jsonb) v)::text, '[]');
    END IF;
    RETURN NEW;
END $$;
"""

# Version 9: Do-Not-Call registries (see sqlite_schema._v9).
_V9 = DNC_TABLES

# Version 10: the Reassigned Numbers Database's answers (see sqlite_schema._v10).
_V10 = RND_TABLES

# Version 11: a consent's basis, and opt-out requests waiting for a person (see sqlite_schema._v11).
_V11 = CONSENT_BASIS_COLUMN + OPTOUT_REQUESTS_TABLE.format(id="bigserial PRIMARY KEY")

MIGRATIONS = [_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10, _V11]
SCHEMA_VERSION = len(MIGRATIONS)
