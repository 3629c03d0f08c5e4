import { describe, expect, it } from 'vitest';
import { redactUrl, serializeRequest } from '../../src/api/log.js';
import { resumePoint } from '../../src/api/resume.js';
import { parseRange } from '../../src/api/routes/files.js';

describe('resumePoint: where a client resumes a run', () => {
  it('starts from 0 without Last-Event-ID or after', () => {
    expect(resumePoint(undefined, undefined)).toBe(0);
    expect(resumePoint('', undefined)).toBe(0);
  });

  it('takes Last-Event-ID, and it wins over ?after=', () => {
    expect(resumePoint('3', undefined)).toBe(3);
    expect(resumePoint('3', '10')).toBe(3);
    expect(resumePoint(['5', '6'], undefined)).toBe(5);
  });

  it('takes ?after= when there is no header', () => {
    expect(resumePoint(undefined, '12')).toBe(12);
  });

  it('refuses anything but a non-negative integer with validation_failed', () => {
    for (const bad of ['-1', '1.5', 'abc', '1e3', '0x10', '9999999999']) {
      expect(() => resumePoint(bad, undefined)).toThrow(
        expect.objectContaining({ code: 'validation_failed' }),
      );
      expect(() => resumePoint(undefined, bad)).toThrow(
        expect.objectContaining({ code: 'validation_failed' }),
      );
    }
  });
});

describe('parseRange: HTTP Range against a file size', () => {
  it('answers null without a header or for a header it does not understand', () => {
    expect(parseRange(undefined, 10)).toBeNull();
    expect(parseRange('bytes=-', 10)).toBeNull();
    expect(parseRange('items=0-1', 10)).toBeNull();
    expect(parseRange('bytes=0-1,3-4', 10)).toBeNull();
  });

  it('reads a-b, a- and -n, clamping the end to the size', () => {
    expect(parseRange('bytes=0-3', 10)).toEqual({ start: 0, end: 3 });
    expect(parseRange('bytes=4-', 10)).toEqual({ start: 4, end: 9 });
    expect(parseRange('bytes=-3', 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange('bytes=-30', 10)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=5-100', 10)).toEqual({ start: 5, end: 9 });
  });

  it('throws for an unsatisfiable range', () => {
    expect(() => parseRange('bytes=10-', 10)).toThrow();
    expect(() => parseRange('bytes=5-2', 10)).toThrow();
    expect(() => parseRange('bytes=0-0', 0)).toThrow();
  });
});

describe('redactUrl: request URLs in logs', () => {
  it('replaces the access_token value and keeps everything else', () => {
    expect(redactUrl('/v1/conversations/c/runs/r/events?access_token=secret123&after=4')).toBe(
      '/v1/conversations/c/runs/r/events?access_token=[redacted]&after=4',
    );
    expect(redactUrl('/x?after=1&access_token=s')).toBe('/x?after=1&access_token=[redacted]');
    expect(redactUrl('/x?access%5Ftoken=s')).toBe('/x?access%5Ftoken=[redacted]');
    expect(redactUrl('/x?access_token')).toBe('/x?access_token=[redacted]');
    expect(redactUrl('/x?ticket=wct_abc&cols=80')).toBe('/x?ticket=[redacted]&cols=80');
    expect(redactUrl('/x?after=1')).toBe('/x?after=1');
    expect(redactUrl('/x')).toBe('/x');
  });

  it('serializes a request without the secret', () => {
    const line = JSON.stringify(
      serializeRequest({ method: 'GET', url: '/e?access_token=abc123secret', ip: '127.0.0.1' }),
    );
    expect(line).not.toContain('abc123secret');
    expect(line).toContain('"method":"GET"');
  });
});
