import type { LuaScript } from './script.js';

export const settleDelivery: LuaScript = {
  name: 'workcellSettleDelivery',
  numberOfKeys: 3,
  lua: `--[[
  Settles a claimed webhook delivery, only while the claim still holds it: removes it (done or
  given up) or puts it back with a new entry and due time (retry).

  Input:
    KEYS[1] the outbox's due times (zset: id -> due ms)
    KEYS[2] the outbox's entries (hash: id -> entry JSON)
    KEYS[3] the outbox's claims (hash: id -> claim)

    ARGV[1] delivery id
    ARGV[2] claim
    ARGV[3] 'remove' or 'retry'
    ARGV[4] retry only: the new entry JSON
    ARGV[5] retry only: the new due time, epoch ms

  Output:
    1 when settled, 0 when the claim no longer holds the delivery
]]
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[3], ARGV[1])
if ARGV[3] == 'retry' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
  redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
else
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
`,
};
