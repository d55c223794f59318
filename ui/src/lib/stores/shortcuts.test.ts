import { describe, expect, it } from 'vitest';
import { isTyping, shortcut, type KeyPress } from './shortcuts';

const press = (key: string, mods: Partial<KeyPress> = {}): KeyPress => ({ key, ctrlKey: false, metaKey: false, altKey: false, ...mods });

describe('keyboard shortcuts', () => {
  it('maps the single keys the help lists', () => {
    const keys = ['?', 'j', 'k', 'r', 'n', 'a', 'e', 'x'].map((k) => shortcut(press(k), false, false));
    expect(keys).toEqual(['help', 'next', 'previous', 'reply', 'note', 'assign', 'resolve', null]);
  });

  it('opens search with Ctrl+K or Cmd+K and takes Escape everywhere', () => {
    for (const [typing, overlay] of [[false, false], [true, false], [false, true]]) {
      expect(shortcut(press('k', { ctrlKey: true }), typing, overlay)).toBe('search');
      expect(shortcut(press('K', { metaKey: true }), typing, overlay)).toBe('search');
      expect(shortcut(press('Escape'), typing, overlay)).toBe('escape');
    }
  });

  it('leaves single keys alone while typing, under an overlay, or with a modifier', () => {
    expect(shortcut(press('j'), true, false)).toBeNull();
    expect(shortcut(press('j'), false, true)).toBeNull();
    expect(shortcut(press('j', { altKey: true }), false, false)).toBeNull();
    expect(shortcut(press('e', { ctrlKey: true }), false, false)).toBeNull();
  });

  it('counts inputs, text areas and selects as typing', () => {
    expect(['input', 'textarea', 'select', 'button'].map((tag) => isTyping(document.createElement(tag)))).toEqual([true, true, true, false]);
    expect(isTyping(null)).toBe(false);
  });
});
