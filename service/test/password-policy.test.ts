import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { checkPasswordPolicy } from '../src/domain/auth/admins.js';
import { passwordProblem } from '../src/domain/auth/password-policy.js';
import { ApiError } from '../src/lib/errors.js';

describe('admin password policy (issue 16)', () => {
  it('refuses the passwords the probe got accepted, and their kin, each with a clear reason', () => {
    const refused: [string, RegExp][] = [
      ['password1234', /too common/],
      ['123456789012', /simple sequence/],
      ['abcdeabcdeab', /repeated pattern/],
      ['P@ssw0rd2024!', /too common/],
      ['Senha@123456', /too common/],
      ['qwertyuiopas', /too common|simple sequence/],
      ['zyxwvutsrqpo', /simple sequence/],
      ['098765432109', /simple sequence/],
      ['ababababababab', /too repetitive|repeated pattern/],
      ['short', /at least 12 characters/],
      ['x'.repeat(257), /at most 256/],
    ];
    expect(refused.map(([pw, why]) => [pw.slice(0, 20), why.test(passwordProblem(pw) ?? 'accepted') ? 'ok' : passwordProblem(pw)])).toEqual(
      refused.map(([pw]) => [pw.slice(0, 20), 'ok']),
    );
  });

  it('accepts passphrases and random strings', () => {
    for (const pw of ['correct horse battery staple', 'a long enough passphrase', 'v8#Lq2!mZr0p', '8472!@#9261$', 'Tr0mbone-Kettle-Yak']) {
      expect({ pw, problem: passwordProblem(pw) }).toEqual({ pw, problem: null });
    }
  });

  it('is the rule of the admin API (400 naming the field) and of ADMIN_PASSWORD at start', () => {
    try {
      checkPasswordPolicy('password1234');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).status).toBe(400);
      expect((e as ApiError).details).toEqual({ field: 'password' });
    }
    expect(() => loadConfig({ ADMIN_PASSWORD: 'abcdeabcdeab' })).toThrow(ConfigError);
    expect(() => loadConfig({ ADMIN_PASSWORD: 'abcdeabcdeab' })).toThrow(/ADMIN_PASSWORD: password is a repeated pattern/);
    expect(loadConfig({ ADMIN_PASSWORD: 'correct horse battery staple' }).ADMIN_PASSWORD).toBe('correct horse battery staple');
  });
});
