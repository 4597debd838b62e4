-- Maestro Edge schema, version 10: Amazon Bedrock nodes (issue 23).
-- Idempotent, like every migration: psql "$DATABASE_URL" -1 -f migrations/0010_bedrock.sql
--
-- 1. node_type 'bedrock': the Converse API on bedrock-runtime.{region}.amazonaws.com (or the
--    node's base_url, when set: a proxy, a VPC endpoint, a test fake).
ALTER TABLE nodes DROP CONSTRAINT IF EXISTS nodes_node_type_check;
ALTER TABLE nodes ADD CONSTRAINT nodes_node_type_check CHECK (node_type IN ('ollama', 'openai', 'anthropic', 'bedrock'));

-- 2. Credentials. A Bedrock API key is the node's api_key_ciphertext (sent as Bearer), like
--    every other node key. SigV4 needs the region, the access key id (an identifier, kept
--    plain so the admin can see which key a node uses), and the secret access key and optional
--    session token, sealed by the Worker (AES-256-GCM, src/auth/secrets.rs) before they reach
--    this table: SQL never sees them in clear.
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS aws_region text CHECK (aws_region IS NULL OR aws_region ~ '^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$');
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS aws_access_key_id text CHECK (aws_access_key_id IS NULL OR aws_access_key_id ~ '^[A-Z0-9]{16,128}$');
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS aws_secret_key_ciphertext text;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS aws_session_token_ciphertext text;

INSERT INTO schema_migrations (version, name) VALUES (10, 'bedrock') ON CONFLICT (version) DO NOTHING;
