-- The routing snapshot as one JSON document (shape: src/state/snapshot.rs).
SELECT json_build_object(
  'version', (SELECT version FROM snapshot_version),
  'users', COALESCE((
    SELECT json_agg(json_build_object(
      'id', u.id,
      'username', u.username,
      'token_hash', u.token_hash,
      'active', u.is_active,
      'all_models', u.has_all_models,
      'can_manage_models', u.can_manage_models,
      'models', COALESCE((SELECT json_agg(um.model_name ORDER BY um.model_name) FROM user_models um WHERE um.user_id = u.id), '[]'::json),
      'request_limit', l.request_limit,
      'token_limit', l.token_limit,
      'nodes', COALESCE((SELECT json_agg(un.node_id ORDER BY un.node_id) FROM user_nodes un WHERE un.user_id = u.id), '[]'::json),
      'node_models', COALESCE((SELECT json_agg(json_build_object('node_id', unm.node_id, 'model', unm.model_name) ORDER BY unm.node_id, unm.model_name) FROM user_node_models unm WHERE unm.user_id = u.id), '[]'::json),
      'teams', COALESCE((SELECT json_agg(tm.team_id ORDER BY tm.team_id) FROM team_members tm WHERE tm.user_id = u.id), '[]'::json)
    ) ORDER BY u.id)
    FROM users u LEFT JOIN user_limits l ON l.user_id = u.id
    WHERE u.deleted_at IS NULL), '[]'::json),
  'keys_enabled', true,
  -- Revoked and expired keys stay for 30 days, so their 401 can say which.
  'keys', COALESCE((
    SELECT json_agg(json_build_object(
      'id', k.id,
      'user_id', k.user_id,
      'hash', k.key_hash,
      'revoked', k.revoked_at IS NOT NULL,
      'expires_at_ms', (extract(epoch FROM k.expires_at) * 1000)::bigint,
      'models', to_json(k.models),
      'ip_allow', COALESCE(to_json(k.ip_allow), '[]'::json),
      'request_limit', k.request_limit,
      'token_limit', k.token_limit
    ) ORDER BY k.id)
    FROM api_keys k JOIN users ku ON ku.id = k.user_id
    WHERE ku.deleted_at IS NULL
      AND (k.revoked_at IS NULL OR k.revoked_at > now() - interval '30 days')
      AND (k.expires_at IS NULL OR k.expires_at > now() - interval '30 days')), '[]'::json),
  'teams', COALESCE((
    SELECT json_agg(json_build_object(
      'id', t.id,
      'name', t.name,
      'all_models', t.has_all_models,
      'models', COALESCE((SELECT json_agg(tmm.model_name ORDER BY tmm.model_name) FROM team_models tmm WHERE tmm.team_id = t.id), '[]'::json),
      'request_limit', t.request_limit,
      'token_limit', t.token_limit
    ) ORDER BY t.id)
    FROM teams t), '[]'::json),
  'nodes', COALESCE((
    SELECT json_agg(json_build_object(
      'id', n.id,
      'name', n.name,
      'code', n.code,
      'kind', n.node_type,
      'base_url', n.base_url,
      'api_key_sealed', n.api_key_ciphertext,
      'priority', n.priority,
      'weight', n.weight,
      'headers', COALESCE((SELECT json_agg(json_build_array(h.key, h.value)) FROM jsonb_each_text(n.headers) h), '[]'::json),
      'headers_sealed', n.headers_sealed,
      'health', n.health_status,
      'active', n.is_active,
      'warmup', n.warmup_enabled,
      'health_url', n.health_url,
      'pinned_only', n.pinned_only,
      'route_unknown_models', n.route_unknown_models,
      'request_rules', n.request_rules,
      'models', COALESCE((
        SELECT json_agg(json_build_object(
          'name', m.model_name,
          'available', m.is_available AND m.is_present,
          'loaded', m.is_loaded,
          'context_length', m.context_length,
          'capabilities', m.capabilities,
          'size', m.size_bytes,
          'digest', m.digest,
          'modified_at', m.modified_at,
          'details', m.details
        ) ORDER BY m.model_name)
        FROM node_models m WHERE m.node_id = n.id), '[]'::json)
    ) ORDER BY n.priority, n.id)
    FROM nodes n), '[]'::json),
  'mappings', COALESCE((
    SELECT json_agg(json_build_object(
      'display', mm.display_name,
      'real', mm.real_name,
      'node_ids', COALESCE((SELECT json_agg(mn.node_id ORDER BY mn.node_id) FROM model_mapping_nodes mn WHERE mn.mapping_id = mm.id), '[]'::json),
      'context_length', mm.context_length,
      'capabilities', mm.capabilities
    ) ORDER BY mm.display_name)
    FROM model_mappings mm), '[]'::json),
  'groups', COALESCE((
    SELECT json_agg(json_build_object(
      'name', g.name,
      'strategy', g.strategy,
      'node_strategy', g.node_strategy,
      'active', g.is_active,
      'list_in_catalog', g.list_in_catalog,
      'max_failover_retries', g.max_failover_retries,
      'members', COALESCE((
        SELECT json_agg(json_build_object(
          'name', gm.model_name,
          'tags', gm.capability_tags,
          'weight', gm.weight,
          'priority', gm.priority,
          'is_fallback', gm.is_fallback,
          'is_fallback_413', gm.is_fallback_413,
          'is_metadata_source', gm.is_metadata_source,
          'active', gm.is_active,
          'preferred_nodes', COALESCE((SELECT json_agg(pn.node_id ORDER BY pn.position, pn.node_id) FROM model_group_member_nodes pn WHERE pn.member_id = gm.id), '[]'::json)
        ) ORDER BY gm.priority, gm.id)
        FROM model_group_members gm WHERE gm.group_id = g.id), '[]'::json)
    ) ORDER BY g.priority, g.name)
    FROM model_groups g), '[]'::json),
  'model_configs', COALESCE((
    SELECT json_agg(json_build_object(
      'prefix', mc.model_prefix,
      'exact', mc.is_exact_match,
      'allowed_tools', CASE WHEN mc.tool_set_id IS NOT NULL THEN to_json(ts.tools) ELSE to_json(mc.allowed_tools) END,
      'unsupported_params', mc.unsupported_params,
      'default_context_length', mc.default_context_length,
      'max_context_length', mc.max_context_length,
      'requests_per_minute', mc.requests_per_minute,
      'tokens_per_minute', mc.tokens_per_minute,
      'node_strategy', mc.node_strategy,
      'maintenance', mc.maintenance_mode
    ) ORDER BY mc.model_prefix)
    FROM model_configs mc LEFT JOIN tool_sets ts ON ts.id = mc.tool_set_id
    WHERE mc.is_active), '[]'::json),
  'system_prompts', COALESCE((
    SELECT json_agg(json_build_object('scope', sp.scope_type, 'value', sp.scope_value, 'prompt', sp.prompt, 'priority', sp.priority) ORDER BY sp.priority DESC, sp.id)
    FROM system_prompts sp WHERE sp.is_active), '[]'::json),
  'prices', COALESCE((
    SELECT json_agg(json_build_object(
      'model', mp.model_name,
      'node_id', mp.node_id,
      'input', mp.input_micros,
      'output', mp.output_micros,
      'cache_read', mp.cache_read_micros,
      'cache_write', mp.cache_write_micros
    ) ORDER BY mp.model_name, mp.node_id NULLS FIRST)
    FROM model_prices mp), '[]'::json),
  'budgets', COALESCE((
    SELECT json_agg(json_build_object(
      'id', b.id,
      'owner', CASE WHEN b.user_id IS NOT NULL THEN 'user' WHEN b.team_id IS NOT NULL THEN 'team' ELSE 'key' END,
      'owner_id', COALESCE(b.user_id, b.team_id, b.key_id),
      'period', b.period,
      'limit_micros', b.limit_micros,
      'soft_pct', b.soft_pct
    ) ORDER BY b.id)
    FROM budgets b), '[]'::json),
  'settings_raw', COALESCE((SELECT json_object_agg(s.key, s.value) FROM settings s), '{}'::json)
)::text
