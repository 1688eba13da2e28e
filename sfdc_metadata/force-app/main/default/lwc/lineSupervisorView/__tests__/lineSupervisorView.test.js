import { createElement } from 'lwc';
import LineSupervisorView, { REFRESH_MS } from 'c/lineSupervisorView';
import getOverview from '@salesforce/apex/LineSupervisorController.getOverview';
import whisper from '@salesforce/apex/LineSupervisorController.whisper';
import answerFlag from '@salesforce/apex/LineSupervisorController.answerFlag';
import openChat from '@salesforce/apex/LineSupervisorController.openChat';

jest.mock('@salesforce/apex/LineSupervisorController.getOverview', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineSupervisorController.whisper', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineSupervisorController.answerFlag', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineSupervisorController.openChat', () => ({ default: jest.fn() }), { virtual: true });

const TOAST = 'lightning__showtoast';
const { setImmediate } = require('timers');
const flushPromises = () => new Promise((resolve) => setImmediate(resolve));

const OVERVIEW = {
    queues: [{ channelId: '2000000001', waiting: 2, longestWaitMinutes: 7 }],
    operators: [
        { operatorId: '005A', name: 'Aiko Tanaka', liveChats: 3, helpRequests: 1, presence: 'Busy', capacity: 3, onHold: 1 },
        { operatorId: '005K', name: 'Ken Sato', liveChats: 0, helpRequests: 0, presence: 'Available', capacity: 2, onHold: 0 }
    ],
    chats: [
        {
            id: 'a01A',
            name: 'S-000001',
            customer: '田中 花子',
            status: 'Operator',
            operatorName: 'Aiko Tanaka',
            waitMinutes: 3,
            handleMinutes: 9,
            helpRequestedAt: '2026-12-07T05:00:00.000Z',
            helpNote: 'Refund above my limit'
        },
        { id: 'a01B', name: 'S-000002', customer: '佐藤 次郎', status: 'Queued', waitMinutes: 7, handleMinutes: 0 }
    ]
};
const TRANSCRIPT = [
    { id: 'm1', direction: 'Inbound', text: 'I was charged twice' },
    { id: 'm2', direction: 'Internal', text: 'Offer the refund form' }
];

function mount() {
    const element = createElement('c-line-supervisor-view', { is: LineSupervisorView });
    document.body.appendChild(element);
    return element;
}

const $ = (element, selector) => element.shadowRoot.querySelector(selector);
const $$ = (element, selector) => [...element.shadowRoot.querySelectorAll(selector)];
const click = (node) => node.dispatchEvent(new CustomEvent('click'));

async function openFirstChat(element) {
    click($(element, 'tr.chat lightning-button.open'));
    await flushPromises();
}

beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    getOverview.mockResolvedValue(OVERVIEW);
    openChat.mockResolvedValue(TRANSCRIPT);
    whisper.mockResolvedValue('a02W');
    answerFlag.mockResolvedValue(undefined);
});

afterEach(() => {
    while (document.body.firstChild) document.body.removeChild(document.body.firstChild);
    jest.clearAllMocks();
    jest.useRealTimers();
});

describe('c-line-supervisor-view', () => {
    it('shows each queue with its longest wait and each operator with live chats and help requests', async () => {
        const element = mount();
        await flushPromises();
        expect($(element, 'tr.queue .waiting').textContent).toBe('2');
        expect($(element, 'tr.queue .longest').textContent).toBe('7 min');
        const [aiko, ken] = $$(element, 'tr.operator');
        expect(aiko.querySelector('.load').textContent).toBe('3');
        expect(aiko.querySelector('.help').textContent).toBe('1');
        expect(aiko.querySelector('.presence').textContent).toBe('Busy');
        expect(aiko.querySelector('.capacity').textContent).toBe('3');
        expect(aiko.querySelector('.on-hold').textContent).toBe('1');
        expect(ken.querySelector('.presence').className).toContain('presence-available');
        expect($(element, '.presence-error')).toBeNull();
    });

    it('lists every live chat with wait and handle time, and flags a help request', async () => {
        const element = mount();
        await flushPromises();
        const rows = $$(element, 'tr.chat');
        expect(rows.map((r) => r.querySelector('.customer').textContent)).toEqual(['田中 花子', '佐藤 次郎']);
        expect(rows[0].querySelector('.wait').textContent).toBe('3 min');
        expect(rows[0].querySelector('.handle').textContent).toBe('9 min');
        expect(rows[0].querySelector('.help-note').textContent).toBe('Refund above my limit');
        expect(rows[0].querySelector('lightning-badge.help-badge').label).toBe('Help requested');
        expect(rows[1].querySelector('.help-badge')).toBeNull();
    });

    it('says so when no chat is live', async () => {
        getOverview.mockResolvedValue({ queues: [], operators: [], chats: [] });
        const element = mount();
        await flushPromises();
        expect($(element, '.empty').textContent).toBe('No live chats.');
        expect($(element, 'table.chats')).toBeNull();
    });

    it('refreshes every 15 seconds and on demand, and stops when removed', async () => {
        const element = mount();
        await flushPromises();
        jest.advanceTimersByTime(REFRESH_MS);
        expect(getOverview).toHaveBeenCalledTimes(2);
        click($(element, 'lightning-button.refresh'));
        expect(getOverview).toHaveBeenCalledTimes(3);
        document.body.removeChild(element);
        jest.advanceTimersByTime(REFRESH_MS * 2);
        expect(getOverview).toHaveBeenCalledTimes(3);
    });

    it('still shows the chats when the relay did not give the presence, and says why', async () => {
        getOverview.mockResolvedValue({
            ...OVERVIEW,
            operators: [{ operatorId: '005A', name: 'Aiko Tanaka', liveChats: 3, helpRequests: 0 }],
            presenceError: 'HTTP 503'
        });
        const element = mount();
        await flushPromises();
        expect($(element, '.presence-error').textContent).toBe('Presence is not available: HTTP 503');
        expect($(element, 'tr.operator .presence').textContent).toBe('');
        expect($(element, 'tr.operator .presence').className).toContain('presence-unknown');
        expect($$(element, 'tr.chat')).toHaveLength(2);
    });

    it('shows the reason when the overview cannot be read', async () => {
        getOverview.mockRejectedValue({ body: { message: 'Only LINE supervisors can do this.' } });
        const element = mount();
        await flushPromises();
        expect($(element, '.error').textContent).toBe('Only LINE supervisors can do this.');
    });

    it('opens a chat read-only with its internal messages marked', async () => {
        const element = mount();
        await flushPromises();
        await openFirstChat(element);
        expect(openChat).toHaveBeenCalledWith({ sessionId: 'a01A' });
        const items = $$(element, 'li.message');
        expect(items.map((i) => i.querySelector('lightning-badge').label)).toEqual(['Inbound', 'Internal']);
        expect(items[1].className).toContain('internal');
        expect(items[0].className).not.toContain('internal');
        expect($(element, 'tr.chat').className).toContain('selected');
    });

    it('whispers to the operator of the open chat and confirms it', async () => {
        const element = mount();
        await flushPromises();
        await openFirstChat(element);
        const toast = jest.fn();
        element.addEventListener(TOAST, toast);
        const button = $(element, 'lightning-button.whisper');
        expect(button.disabled).toBe(true);
        $(element, 'lightning-textarea.whisper-text').dispatchEvent(
            new CustomEvent('change', { detail: { value: 'Offer the refund form, not a promise' } })
        );
        await flushPromises();
        expect(button.disabled).toBe(false);
        click(button);
        await flushPromises();
        expect(whisper).toHaveBeenCalledWith({ sessionId: 'a01A', text: 'Offer the refund form, not a promise' });
        expect(openChat).toHaveBeenCalledTimes(2);
        expect(toast.mock.calls[0][0].detail).toMatchObject({
            title: 'Your advice is in the chat as an internal message.',
            variant: 'success'
        });
        expect($(element, 'lightning-textarea.whisper-text').value).toBe('');
    });

    it('answers a help request and reloads the view', async () => {
        const element = mount();
        await flushPromises();
        click($(element, 'lightning-button.answer'));
        await flushPromises();
        expect(answerFlag).toHaveBeenCalledWith({ sessionId: 'a01A' });
        expect(getOverview).toHaveBeenCalledTimes(2);
    });

    it('shows an error toast when an action is refused', async () => {
        answerFlag.mockRejectedValue(new Error('This chat is closed.'));
        const element = mount();
        await flushPromises();
        const toast = jest.fn();
        element.addEventListener(TOAST, toast);
        click($(element, 'lightning-button.answer'));
        await flushPromises();
        expect(toast.mock.calls[0][0].detail).toMatchObject({
            title: 'The action failed',
            message: 'This chat is closed.',
            variant: 'error'
        });
    });

    it('falls back to a generic message for an error without one', async () => {
        openChat.mockRejectedValue({});
        const element = mount();
        await flushPromises();
        const toast = jest.fn();
        element.addEventListener(TOAST, toast);
        await openFirstChat(element);
        expect(toast.mock.calls[0][0].detail.message).toBe('Unknown error');
        expect($(element, 'ul.transcript')).toBeNull();
    });
});
