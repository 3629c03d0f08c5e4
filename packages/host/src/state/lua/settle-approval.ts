import type { LuaScript } from './script.js';

export const settleApproval: LuaScript = {
  name: 'workcellSettleApproval',
  numberOfKeys: 1,
  lua: `--[[
  Settles an approval or client tool call once: the first settlement is kept, any later one is
  refused, so of two deciders (on any hosts) exactly one wins.

  Input:
    KEYS[1] a conversation's approvals (hash: r:<id> -> record JSON, s:<id> -> settlement JSON)
    ARGV[1] the item id
    ARGV[2] the settlement JSON

  Output:
    1 settled now; 0 settled before; -1 no such item
]]
if redis.call('HEXISTS', KEYS[1], 'r:' .. ARGV[1]) == 0 then
  return -1
end
return redis.call('HSETNX', KEYS[1], 's:' .. ARGV[1], ARGV[2])
`,
};
