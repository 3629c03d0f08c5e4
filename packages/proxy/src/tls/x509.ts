// @peculiar/x509 needs the Reflect metadata polyfill loaded before it; this module is the only
// place that imports it, so the order holds wherever certificates are made.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// Node's webcrypto is the standard Crypto; the cast keeps this compiling when a program also
// loads the DOM's Crypto type (the browser tests do), which lists algorithms Node's types lack.
x509.cryptoProvider.set(webcrypto as ReturnType<typeof x509.cryptoProvider.get>);

export { x509 };
