import type { LuaScript } from './script.js';

export const claimDeliveries: LuaScript = {
  name: 'workcellClaimDeliveries',
  numberOfKeys: 3,
  lua: `--[[
  Claims the webhook deliveries that are due: each is pushed to now + lease in the due set (so
  no other claimer sees it until then, and it comes due again if this claimer dies) and its
  claim recorded. Ids without an entry are dropped on the way.

  Input:
    KEYS[1] the outbox's due times (zset: id -> due ms)
    KEYS[2] the outbox's entries (hash: id -> entry JSON)
    KEYS[3] the outbox's claims (hash: id -> claim)

    ARGV[1] now, epoch ms
    ARGV[2] lease, ms
    ARGV[3] most entries to claim
    ARGV[4] claim

  Output:
    the claimed entries' JSON, oldest due first
]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local until_ms = tonumber(ARGV[1]) + tonumber(ARGV[2])
local claimed = {}
for _, id in ipairs(ids) do
  local entry = redis.call('HGET', KEYS[2], id)
  if entry then
    redis.call('ZADD', KEYS[1], until_ms, id)
    redis.call('HSET', KEYS[3], id, ARGV[4])
    claimed[#claimed + 1] = entry
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return claimed
`,
};
