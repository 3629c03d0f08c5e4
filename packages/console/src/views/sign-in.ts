import { h, replace } from '../dom.js';
import { describeError, signIn } from '../session.js';

/** The sign-in form: a textbox "API token" and a button "Sign in". */
export function signInView(root: HTMLElement, done: () => void): void {
  const input = h('input', {
    id: 'token',
    type: 'text',
    class: 'secret',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
  });
  const alert = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'panel sign-in' },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'The token is kept for this browser session only.'),
    h('label', { for: 'token' }, 'API token'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    alert,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.textContent = '';
    signIn(input.value.trim()).then(done, (err: unknown) => {
      alert.textContent = describeError(err);
    });
  });
  replace(root, form);
  input.focus();
}
