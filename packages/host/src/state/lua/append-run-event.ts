import type { LuaScript } from './script.js';

export const appendRunEvent: LuaScript = {
  name: 'workcellAppendRunEvent',
  numberOfKeys: 1,
  lua: `--[[
  Appends a run's next event to its stream only if its seq is the last seq + 1 (1 for an empty
  buffer). The entry id is '<seq>-0', so XRANGE by seq needs no field lookup.

  Input:
    KEYS[1] the run's event buffer (stream)

    ARGV[1] seq
    ARGV[2] event name
    ARGV[3] event data

  Output:
    {1, seq} when appended, {0, last seq} when seq does not follow the last one
]]
local rcall = redis.call
local last = 0
local top = rcall('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #top > 0 then
  last = tonumber(string.match(top[1][1], '^(%d+)'))
end
if tonumber(ARGV[1]) ~= last + 1 then
  return {0, last}
end
rcall('XADD', KEYS[1], ARGV[1] .. '-0', 'event', ARGV[2], 'data', ARGV[3])
return {1, last + 1}
`,
};
