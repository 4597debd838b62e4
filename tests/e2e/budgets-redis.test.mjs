// The budgets suite (budgets.test.mjs) again with backend.limits = redis: the reservations,
// give-backs and the 200-request bound hold when the windows live in a real redis-server behind
// the Upstash REST bridge (src/limits/sync.lua).
process.env.MAESTRO_LIMITS_BACKEND = "redis";
await import("./budgets.test.mjs");
