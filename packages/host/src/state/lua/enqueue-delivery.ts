import type { LuaScript } from './script.js';

export const enqueueDelivery: LuaScript = {
  name: 'workcellEnqueueDelivery',
  numberOfKeys: 2,
  lua: `--[[
  Adds a webhook delivery to the outbox, due at a time; an id already there is left alone.

  Input:
    KEYS[1] the outbox's due times (zset: id -> due ms)
    KEYS[2] the outbox's entries (hash: id -> entry JSON)

    ARGV[1] delivery id
    ARGV[2] entry JSON
    ARGV[3] due time, epoch ms

  Output:
    1 when added, 0 when the id was there already
]]
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`,
};
