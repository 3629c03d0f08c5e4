import { describe, expect, it } from 'vitest';
import { AnthropicApiError } from '../../src/managed-agents/errors.js';
import {
  installCommand,
  PYTHON_PACKAGES_PATH,
  registryHosts,
} from '../../src/managed-agents/package-install.js';
import {
  checkPackageLists,
  npmSpecProblem,
  pipSpecProblem,
} from '../../src/managed-agents/package-specs.js';

describe('environment package lists', () => {
  it('serves npm names with versions, ranges and tags, and scoped names', () => {
    for (const spec of [
      'left-pad',
      'lodash@4.17.21',
      'react@^18.2.0',
      'typescript@~5.4',
      'next@latest',
      '@types/node',
      '@scope/pkg.name@1.0.0-beta.1',
    ])
      expect(npmSpecProblem(spec), spec).toBeNull();
  });

  it('refuses npm options, URLs, paths, git and aliases, and shell metacharacters', () => {
    for (const spec of [
      '--registry=https://evil.example',
      '-g',
      'https://evil.example/x.tgz',
      'git+https://github.com/a/b.git',
      'github:a/b',
      'a/b',
      './local',
      '../up',
      '/abs/path',
      'file:../x',
      'x@file:../x',
      'x@npm:other',
      'x@http://evil.example/x.tgz',
      'x;rm -rf /',
      'x && curl evil',
      'x|sh',
      '$(id)',
      '`id`',
      'x@1.0.0 --registry=x',
      'x@>=1 <2',
      'UPPER',
      'x\nrm',
      '',
      'a'.repeat(215),
    ])
      expect(npmSpecProblem(spec), spec).not.toBeNull();
  });

  it('serves pip requirements with extras and version clauses', () => {
    for (const spec of [
      'requests',
      'requests==2.31.0',
      'numpy>=1.26,<2',
      'Django~=5.0',
      'pkg!=1.2.*',
      'black[d]',
      'uvicorn[standard]>=0.29',
      'zope.interface',
      'typing_extensions',
    ])
      expect(pipSpecProblem(spec), spec).toBeNull();
  });

  it('refuses pip options, URLs, paths, direct references, markers and shell metacharacters', () => {
    for (const spec of [
      '--index-url=https://evil.example/simple',
      '--index-url',
      '-i',
      '-e .',
      '-r requirements.txt',
      'https://evil.example/x.whl',
      'pkg @ https://evil.example/x.whl',
      'pkg@https://evil.example/x.whl',
      './dir',
      '/abs/pkg.whl',
      'git+https://github.com/a/b',
      'pkg; python_version<"3.8"',
      'pkg==1.0;os.system',
      'pkg==1.0 --extra-index-url=x',
      'pkg$(id)',
      'pkg`id`',
      'pkg|sh',
      'pkg&&x',
      'pkg[a;b]',
      'pkg==',
      '',
    ])
      expect(pipSpecProblem(spec), spec).not.toBeNull();
  });

  it('answers 400 naming the manager and the bad entry', () => {
    let caught: unknown;
    try {
      checkPackageLists({ npm: ['ok'], pip: ['fine', '--index-url=https://evil.example'] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AnthropicApiError);
    expect((caught as AnthropicApiError).status).toBe(400);
    expect((caught as AnthropicApiError).message).toContain('config.packages.pip[1]');
    expect((caught as AnthropicApiError).message).toContain('--index-url=https://evil.example');
  });

  it('refuses apt, cargo, gem and go by name', () => {
    for (const manager of ['apt', 'cargo', 'gem', 'go'] as const) {
      expect(() => checkPackageLists({ [manager]: ['x'] })).toThrow(
        `${manager} packages (config.packages.${manager})`,
      );
      expect(checkPackageLists({ [manager]: [] })).toEqual({ npm: [], pip: [] });
    }
  });
});

describe('the install step', () => {
  const registries = { npm: 'http://localhost:4873', pip: 'https://pypi.org/simple' };

  it('opens only the registries of the managers used (with the file host of pypi.org)', () => {
    expect(registryHosts(registries, ['npm'])).toEqual(['localhost:4873']);
    expect(registryHosts(registries, ['pip'])).toEqual(['pypi.org', 'files.pythonhosted.org']);
    expect(registryHosts(registries)).toEqual([
      'localhost:4873',
      'pypi.org',
      'files.pythonhosted.org',
    ]);
  });

  it('passes each package as one argument after the end of options, through the proxy', () => {
    const npm = installCommand('npm', registries.npm, ['a@1.0.0', '@s/b']);
    expect(npm.slice(0, 5)).toEqual(['env', '-u', 'NO_PROXY', '-u', 'no_proxy']);
    expect(npm.slice(npm.indexOf('--registry'), npm.indexOf('--registry') + 2)).toEqual([
      '--registry',
      'http://localhost:4873',
    ]);
    expect(npm.slice(-3)).toEqual(['--', 'a@1.0.0', '@s/b']);
    const pip = installCommand('pip', registries.pip, ['requests==2.31.0']);
    expect(pip).toContain(PYTHON_PACKAGES_PATH);
    expect(pip.slice(pip.indexOf('--index-url'), pip.indexOf('--index-url') + 2)).toEqual([
      '--index-url',
      'https://pypi.org/simple',
    ]);
    expect(pip.slice(-2)).toEqual(['--', 'requests==2.31.0']);
  });
});
