import type { LuaScript } from './script.js';

export const takeTicket: LuaScript = {
  name: 'workcellTakeTicket',
  numberOfKeys: 1,
  lua: `--[[
  Takes a browser ticket's grant: reads it and deletes it in one step, so of two redeemers (on
  any hosts) one gets the grant and the other nothing. (GET then DEL stands in for GETDEL,
  which needs Redis 6.2.)

  Input:
    KEYS[1] the ticket's grant (string with a TTL), named by the ticket's digest

  Output:
    the grant JSON, or false when there is none (never issued, expired or already taken)
]]
local grant = redis.call('GET', KEYS[1])
if grant then
  redis.call('DEL', KEYS[1])
end
return grant
`,
};
