/** One Lua script, registered on the client with ioredis `defineCommand` under `name`. */
export interface LuaScript {
  readonly name: string;
  readonly numberOfKeys: number;
  readonly lua: string;
}
