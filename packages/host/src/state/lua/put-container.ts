import type { LuaScript } from './script.js';

export const putContainer: LuaScript = {
  name: 'workcellPutContainer',
  numberOfKeys: 1,
  lua: `--[[
  Replaces a container record whole: fields absent from the new record (nulls) do not survive.

  Input:
    KEYS[1] the container record (hash)

    ARGV[1 ..] field, value pairs

  Output:
    1
]]
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`,
};
