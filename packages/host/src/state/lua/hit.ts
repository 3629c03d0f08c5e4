import type { LuaScript } from './script.js';

export const hit: LuaScript = {
  name: 'workcellHit',
  numberOfKeys: 1,
  lua: `--[[
  Counts one hit in a fixed window: the first hit of a window starts its TTL, later hits in the
  window leave the TTL alone. (PTTL < 0 stands in for PEXPIRE NX, which needs Redis 7.)

  Input:
    KEYS[1] the window's counter (string with a TTL)

    ARGV[1] window length, ms

  Output:
    {count in this window, ms until the window resets}
]]
local rcall = redis.call
local count = rcall('INCR', KEYS[1])
local ttl = rcall('PTTL', KEYS[1])
if ttl < 0 then
  rcall('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`,
};
