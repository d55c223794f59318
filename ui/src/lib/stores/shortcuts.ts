// The inbox's keyboard shortcuts (listed in HelpOverlay), as a decision without a DOM: which
// command a key press is, given where it was typed and whether an overlay is open.

/** What a key press asks for. */
export type Shortcut = 'search' | 'escape' | 'help' | 'next' | 'previous' | 'reply' | 'note' | 'assign' | 'resolve';

/** The parts of a key press a shortcut depends on. */
export type KeyPress = Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey'>;

const SINGLE_KEYS: Record<string, Shortcut> = {
  '?': 'help',
  j: 'next',
  k: 'previous',
  r: 'reply',
  n: 'note',
  a: 'assign',
  e: 'resolve',
};

/**
 * The shortcut `press` is, or null. Ctrl/Cmd+K and Escape work everywhere; single keys only when
 * not typing in a field and with no overlay open.
 */
export function shortcut(press: KeyPress, typing: boolean, overlayOpen: boolean): Shortcut | null {
  if ((press.ctrlKey || press.metaKey) && press.key.toLowerCase() === 'k') return 'search';
  if (press.key === 'Escape') return 'escape';
  if (typing || overlayOpen || press.ctrlKey || press.metaKey || press.altKey) return null;
  return SINGLE_KEYS[press.key] ?? null;
}

/** Whether a key press comes from a field that takes text. */
export function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}
