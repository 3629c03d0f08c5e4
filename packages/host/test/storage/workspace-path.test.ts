import { WorkcellError } from '@workcell/protocol';
import { describe, expect, it } from 'vitest';
import { checkWorkspacePath, workspacePathProblem } from '../../src/storage/workspace-path.js';

function refusal(raw: string): WorkcellError {
  try {
    checkWorkspacePath(raw);
  } catch (err) {
    if (err instanceof WorkcellError) return err;
    throw err;
  }
  throw new Error(`${JSON.stringify(raw)} was accepted`);
}

describe('checkWorkspacePath', () => {
  it.each([
    'a.txt',
    'src/index.ts',
    'dir with spaces/file name.md',
    'naïve/ünïcödé ✓ 😀.txt',
    '.gitignore',
    '.git/config',
    'a/.hidden/b',
    '...',
    'a/..b/c..',
    '~/x',
    'C:x',
    '%2e%2e/x',
    '100%.txt',
    `${'a'.repeat(255)}/b`,
  ])('accepts %j unchanged', (path) => {
    expect(checkWorkspacePath(path)).toBe(path);
  });

  it.each([
    ['', /empty/],
    ['../x', /"\.\." segment/],
    ['..', /"\.\." segment/],
    ['a/../../b', /"\.\." segment/],
    ['a/..', /"\.\." segment/],
    ['./x', /"\." segment/],
    ['a/./b', /"\." segment/],
    ['/etc/passwd', /absolute/],
    ['/', /absolute/],
    ['a//b', /empty segment/],
    ['a/', /ends with "\/"/],
    ['a\\b', /backslash/],
    ['..\\..\\windows', /backslash/],
    ['a\0b', /control character/],
    ['a\nb', /control character/],
    ['tab\there', /control character/],
    ['del\u007f', /control character/],
    ['c1\u0085', /control character/],
    ['c1\u009b[31m', /control character/],
    ['lone\ud800surrogate', /surrogate/],
    ['.workcell-object', /reserved/],
    ['a/.workcell-tmp-1', /reserved/],
    ['a/.WorkCell', /reserved/],
  ])('refuses %j', (path, reason) => {
    const err = refusal(path);
    expect(err.code).toBe('invalid_path');
    expect(err.status).toBe(400);
    expect(err.message).toMatch(reason);
  });

  it('refuses a 5,000-character name and a name over 255 bytes', () => {
    expect(refusal('x'.repeat(5000)).message).toMatch(/longer than 4096 bytes/);
    expect(refusal('x'.repeat(256)).message).toMatch(/name longer than 255 bytes/);
    // 128 two-byte characters: 128 characters but 256 bytes.
    expect(refusal('é'.repeat(128)).message).toMatch(/name longer than 255 bytes/);
  });

  it('counts the whole path in UTF-8 bytes: 4096 is the limit', () => {
    const segments = [
      ...Array.from({ length: 15 }, () => 'a'.repeat(255)),
      'b'.repeat(200),
      'c'.repeat(55),
    ];
    const path = segments.join('/'); // 15*255 + 200 + 55 + 16 slashes = 4096 bytes
    expect(checkWorkspacePath(path)).toHaveLength(4096);
    expect(refusal(`${path}c`).message).toMatch(/longer than 4096 bytes/);
  });

  it('refuses a path that is not NFC, so two spellings of one name cannot both exist', () => {
    const nfc = 'caf\u00e9.txt';
    const nfd = 'cafe\u0301.txt';
    expect(checkWorkspacePath(nfc)).toBe(nfc);
    expect(refusal(nfd).message).toMatch(/NFC/);
  });

  it('treats %2e%2e as a plain name, and refuses it once a URL path is decoded', () => {
    // The API decodes the URL path once before checking it.
    expect(checkWorkspacePath('%2e%2e/x')).toBe('%2e%2e/x');
    expect(refusal(decodeURIComponent('%2e%2e/x')).message).toMatch(/"\.\." segment/);
    expect(refusal(decodeURIComponent('%2e%2e%2f%2e%2e%2fetc%2fpasswd')).message).toMatch(
      /"\.\." segment/,
    );
    expect(refusal(decodeURIComponent('a%00b')).message).toMatch(/control character/);
  });

  it('reports the same reason without throwing', () => {
    expect(workspacePathProblem('ok/path')).toBeNull();
    expect(workspacePathProblem('../x')).toMatch(/"\.\." segment/);
  });
});
