// @peculiar/x509 needs the Reflect metadata polyfill loaded before it; this module is the only
// place that imports it, so the order holds wherever certificates are made.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export { x509 };
