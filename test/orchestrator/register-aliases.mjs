import { register } from 'node:module';

register('./workspace-aliases.mjs', import.meta.url);
