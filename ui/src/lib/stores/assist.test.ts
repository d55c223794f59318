import { afterEach, describe, expect, it, vi } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import type { AssistAnnouncement, AssistSettings, LabelSuggestion } from '../ipc';
import { AssistRequests, AssistStatus, assistChange, assistForm, labelsToApply, offerSummary, summaryNote, whereTextGoes, LONG_THREAD } from './assist.svelte';

type Calls = { cmd: string; args: Record<string, unknown> }[];

const ON: AssistAnnouncement = {
  enabled: true,
  provider: { base_url: 'http://127.0.0.1:9/v1', model: 'llama3.1:8b', name: '127.0.0.1:9' },
  masking: true,
  auto_labels: false,
  monthly_budget_tokens: null,
  key_set: false,
  key_version: 0,
  version: 2,
};

const SUGGESTION: LabelSuggestion = { intent: 'refund', sentiment: 'negative', labels: ['intent:refund', 'sentiment:negative'] };

/** A desk whose `assist_stream` answers `pieces` one by one through the channel, or fails. */
function desk(pieces: string[] | { code: string; message: string }): Calls {
  const calls: Calls = [];
  mockIPC((cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    if (cmd === 'assist_status') return ON;
    if (cmd === 'assist_labels') return SUGGESTION;
    if (cmd === 'assist_preview') return { endpoint: 'http://127.0.0.1:9/v1/chat/completions', provider: '127.0.0.1:9', model: 'm', body: '{}', masked: ['[email 1]'] };
    if (cmd === 'assist_stream') {
      if (!Array.isArray(pieces)) throw pieces;
      const channel = args.pieces as { onmessage: (p: string) => void };
      for (const p of pieces) channel.onmessage(p);
      return { tokens: 42, spent_this_month: 1042 };
    }
    return null;
  });
  return calls;
}

afterEach(() => clearMocks());

describe('the indicator', () => {
  it('names where text goes only while AI is on with a provider', () => {
    expect(whereTextGoes(ON)).toBe('AI on · text goes to 127.0.0.1:9 (llama3.1:8b) · identifiers masked');
    expect(whereTextGoes({ ...ON, masking: false })).toBe('AI on · text goes to 127.0.0.1:9 (llama3.1:8b)');
    expect(whereTextGoes({ ...ON, enabled: false })).toBeNull();
    expect(whereTextGoes({ ...ON, provider: null })).toBeNull();
    expect(whereTextGoes(null)).toBeNull();
  });

  it('reads the status from the desk and keeps it when a read fails', async () => {
    desk([]);
    const status = new AssistStatus();
    await status.refresh();
    expect(status.on).toBe(true);
    mockIPC(() => {
      throw { code: 'cache_unavailable', message: 'no cache' };
    });
    await status.refresh();
    expect(status.indicator).toContain('127.0.0.1:9');
  });
});

describe('requests', () => {
  it('streams a draft into the composer piece by piece, and sends nothing', async () => {
    const calls = desk(['Hello ', 'Maria, ', 'your order ships today.']);
    const requests = new AssistRequests(() => 7);
    const seen: string[] = [];
    expect(await requests.draft((text) => seen.push(text))).toBe(true);
    expect(seen).toEqual(['Hello ', 'Hello Maria, ', 'Hello Maria, your order ships today.']);
    expect(calls.map((c) => c.cmd)).toEqual(['assist_stream']);
    expect(calls[0].args).toMatchObject({ conversationId: 7, ask: { type: 'draft' } });
    expect(requests.spent).toEqual({ tokens: 42, month: 1042 });
    expect(requests.busy).toBeNull();
  });

  it('shows a restricted customer’s refusal and puts the draft back when a rewrite fails', async () => {
    desk({ code: 'forbidden', message: 'This customer asked for their data to be restricted, so their conversation is never sent to AI.' });
    const requests = new AssistRequests(() => 7);
    let composer = 'my draft';
    expect(await requests.rewrite('shorter', composer, (text) => (composer = text))).toBe(false);
    expect(composer).toBe('my draft');
    expect(requests.problem?.code).toBe('forbidden');
    expect(requests.problem?.message).toContain('restricted');
  });

  it('asks nothing without a conversation, and one request at a time', async () => {
    const calls = desk(['x']);
    await new AssistRequests(() => null).summarize();
    expect(calls).toEqual([]);
    const requests = new AssistRequests(() => 3);
    await Promise.all([requests.summarize(), requests.summarize()]);
    expect(calls.filter((c) => c.cmd === 'assist_stream')).toHaveLength(1);
    expect(requests.summary).toBe('x');
  });

  it('applies suggested labels only when asked to, and only those not carried yet', async () => {
    desk([]);
    const applied: string[] = [];
    const requests = new AssistRequests(() => 3);
    await requests.suggestLabels([], false, async (l) => void applied.push(l));
    expect(applied).toEqual([]);
    expect(requests.labels).toEqual(SUGGESTION);
    await requests.suggestLabels(['Intent:Refund'], true, async (l) => void applied.push(l));
    expect(applied).toEqual(['sentiment:negative']);
    expect(labelsToApply(SUGGESTION, ['sentiment:negative', 'intent:refund'])).toEqual([]);
  });

  it('shows what is sent without sending', async () => {
    const calls = desk([]);
    const requests = new AssistRequests(() => 3);
    await requests.showWhatIsSent({ type: 'draft' });
    expect(calls.map((c) => c.cmd)).toEqual(['assist_preview']);
    expect(requests.preview?.masked).toEqual(['[email 1]']);
  });
});

describe('summaries', () => {
  it('still streaming when another conversation opens do not show up in it', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    mockIPC(async (cmd, raw) => {
      if (cmd !== 'assist_stream') return null;
      const channel = (raw as Record<string, unknown>).pieces as { onmessage: (p: string) => void };
      channel.onmessage('Order 1 arrived broken');
      await held;
      channel.onmessage(', a refund was promised.');
      return { tokens: 9, spent_this_month: 9 };
    });
    let open = 1;
    const requests = new AssistRequests(() => open);
    const summarizing = requests.summarize();
    await vi.waitFor(() => expect(requests.summary).toBe('Order 1 arrived broken'));
    open = 2;
    requests.reset();
    release();
    await summarizing;
    expect(requests.summary).toBe('');
    expect(requests.spent).toBeNull();
    expect(requests.busy).toBeNull();
  });

  it('are offered on long threads only', () => {
    expect(offerSummary(LONG_THREAD - 1)).toBe(false);
    expect(offerSummary(LONG_THREAD)).toBe(true);
  });

  it('become notes that say AI wrote them', () => {
    expect(summaryNote('  The customer wants a refund. ', '127.0.0.1:9')).toBe('AI summary (127.0.0.1:9):\nThe customer wants a refund.');
  });
});

describe('the owners’ settings', () => {
  const saved: AssistSettings = { ...ON, spent_this_month: 5, monthly_budget_tokens: 100000 };

  it('start off with masking on', () => {
    expect(assistForm(null)).toMatchObject({ enabled: false, masking: true, budget: '' });
    expect(assistForm(saved)).toMatchObject({ enabled: true, baseUrl: 'http://127.0.0.1:9/v1', budget: '100000', apiKey: '' });
  });

  it('need a provider and a model to turn AI on, and a whole budget', () => {
    const form = assistForm(null);
    expect(assistChange({ ...form, enabled: true }, 0)).toHaveProperty('problem');
    expect(assistChange({ ...form, enabled: true, baseUrl: 'api.openai.com', model: 'm' }, 0)).toHaveProperty('problem');
    expect(assistChange({ ...form, budget: '12.5' }, 0)).toHaveProperty('problem');
    expect(assistChange({ ...form, enabled: true, baseUrl: ' https://api.openai.com/v1 ', model: 'gpt-4o-mini', apiKey: ' sk-1 ', budget: '5000' }, 3)).toEqual({
      change: {
        enabled: true,
        base_url: 'https://api.openai.com/v1',
        model: 'gpt-4o-mini',
        masking: true,
        auto_labels: false,
        monthly_budget_tokens: 5000,
        api_key: 'sk-1',
        remove_key: false,
        expected_version: 3,
      },
    });
  });

  it('keep the key when none is typed', () => {
    const checked = assistChange(assistForm(saved), 2);
    expect('change' in checked && checked.change.api_key).toBeNull();
  });
});
