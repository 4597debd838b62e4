// The limits suite (limits.test.mjs) again with backend.limits = redis: the same assertions,
// including 200 concurrent requests against a limit of 50 admitting exactly 50, hold when the
// counters live in a real redis-server behind the Upstash REST bridge.
process.env.MAESTRO_LIMITS_BACKEND = "redis";
await import("./limits.test.mjs");
