-- Turn a migrated gongzhi database into a Citus cluster distributed by district_id.
--
-- Run once, on the coordinator, as a superuser, after `gongzhi migrate` has brought the
-- coordinator's database to head (README.md beside this file):
--   psql "$COORDINATOR_URL" -v ON_ERROR_STOP=1 -f deploy/citus/distribute.sql
--
-- * `districts` has no district_id: a reference table, copied to every node, so that the
--   foreign key of every tenant table to it holds on every shard. So is
--   `persisted_documents` (GraphQL documents are code, the same for every district) and
--   `assessment_weights` (the platform-wide weights of the monthly assessment).
-- * Every other table has district_id first in its primary key, its unique constraints and
--   its foreign keys: it is hash-distributed by district_id, all in one co-location group
--   anchored on `district_counters` (one row per district). A district's rows of every table
--   then live on the same node, so a request's transaction touches one node and joins and
--   foreign keys stay local to it.
-- * Parents before children: Citus refuses a foreign key to a table it does not manage yet.
--   This order is db.models' dependency order; tests/deploy/test_artefacts.py checks it.
-- * `alembic_version` stays a local table of the coordinator: migrations run there.
--
-- Row-level security, its policies and the grants travel with each table to its shards
-- (Citus copies them; the policies use no subquery, which Citus would refuse). The roles
-- gongzhi_app and gongzhi_platform are propagated to the workers by Citus's role propagation.

BEGIN;

-- Distributing tables that reference a reference table inside one transaction needs the
-- sequential mode; all or nothing is worth the slower copy of a one-off migration.
SET LOCAL citus.multi_shard_modify_mode TO 'sequential';
-- The tenant tables FORCE row-level security, which binds their owner too (a superuser is
-- exempt). With row_security off, a role the policies would filter gets an error rather
-- than a copy that silently leaves rows behind.
SET LOCAL row_security TO off;

-- Reference tables: the tenants themselves, and the platform's persisted documents.
SELECT create_reference_table('districts');
SELECT create_reference_table('persisted_documents');
SELECT create_reference_table('assessment_weights');

-- The anchor of the co-location group: one row per district (its event counter).
SELECT create_distributed_table('district_counters', 'district_id', colocate_with => 'none');

-- Places, partners and the people of a district.
SELECT create_distributed_table('deadline_policies', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('partners', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('streets', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('communities', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('committees', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('compounds', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('meetings', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('partnerships', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('buildings', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('compound_services', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('facilities', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('notices', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('people', 'district_id', colocate_with => 'district_counters');

-- Cases and what hangs off them.
SELECT create_distributed_table('cases', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('committee_members', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('meeting_attendees', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('role_bindings', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('case_assignments', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('case_events', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('case_photos', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('case_whistles', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('deadline_alerts', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('helping_hands', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('case_returns', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('case_follow_ups', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('district_assessment_weights', 'district_id', colocate_with => 'district_counters');
-- The assessment's rollups (migration 0011). They are kept by statement-level triggers with
-- transition tables on cases and their workflow rows; whether Citus runs those on
-- distributed tables (`citus.enable_unsafe_triggers`) has not been tried. Without them,
-- `SELECT assessment_rebuild(id) FROM districts` counts the rollups anew.
SELECT create_distributed_table('assessment_case_facts', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('assessment_rollups', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('assessment_watermarks', 'district_id', colocate_with => 'district_counters');
-- The comparisons' rollups (migration 0012), kept the same way (untried on Citus likewise;
-- `SELECT comparison_rebuild(id) FROM districts` counts them anew).
SELECT create_distributed_table('comparison_case_facts', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('comparison_rollups', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('meeting_cases', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('report_keys', 'district_id', colocate_with => 'district_counters');

-- Webhooks: endpoints (after partners), the bodies rendered per event, and deliveries.
SELECT create_distributed_table('webhook_bodies', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('webhook_endpoints', 'district_id', colocate_with => 'district_counters');
SELECT create_distributed_table('webhook_deliveries', 'district_id', colocate_with => 'district_counters');

-- Citus forwards `SET LOCAL` (not set_config()) to the worker connections of a transaction
-- when this is 'local'; the row-level-security policies on the shards read app.district_id.
-- The request path sets the district with SET LOCAL (db/tenancy.py); see "Caveats" in README.md.
DO $$
BEGIN
    EXECUTE format(
        'ALTER DATABASE %I SET citus.propagate_set_commands = %L', current_database(), 'local'
    );
END $$;

-- Nothing left behind: every table of the schema but alembic_version is now a Citus table.
DO $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(c.relname, ', ' ORDER BY c.relname) INTO missing
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
      AND c.relkind IN ('r', 'p')
      AND c.relname <> 'alembic_version'
      AND c.relname !~ '_[0-9]+$'  -- shard placements, should the coordinator hold some
      AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'tables left undistributed (add them to distribute.sql): %', missing;
    END IF;
END $$;

COMMIT;
