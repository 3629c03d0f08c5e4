import type { LuaScript } from './script.js';

export const transitionContainer: LuaScript = {
  name: 'workcellTransitionContainer',
  numberOfKeys: 1,
  lua: `--[[
  Compare-and-set on a container record: applies a patch only if the record exists and its
  state is one of the allowed states, and sets stateChangedAt when the state changes.

  Input:
    KEYS[1] the container record (hash)

    ARGV[1] now, epoch ms
    ARGV[2] n, the number of allowed states
    ARGV[3 .. 2+n] the allowed states
    ARGV[3+n] m, the number of fields to set
    ARGV[4+n .. 3+n+2m] field, value pairs to set
    ARGV[4+n+2m ..] fields to delete (set to null)

  Output:
    the record after the patch as a flat HGETALL array, or nil when the record is missing or
    its state is not allowed
]]
local rcall = redis.call
local state = rcall('HGET', KEYS[1], 'state')
if not state then
  return false
end
local n = tonumber(ARGV[2])
local allowed = false
for i = 3, 2 + n do
  if ARGV[i] == state then
    allowed = true
    break
  end
end
if not allowed then
  return false
end
local m = tonumber(ARGV[3 + n])
local first = 4 + n
local newState = state
for i = first, first + 2 * m - 1, 2 do
  rcall('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  if ARGV[i] == 'state' then
    newState = ARGV[i + 1]
  end
end
for i = first + 2 * m, #ARGV do
  rcall('HDEL', KEYS[1], ARGV[i])
end
if newState ~= state then
  rcall('HSET', KEYS[1], 'stateChangedAt', ARGV[1])
end
return rcall('HGETALL', KEYS[1])
`,
};
