import { createElement } from 'lwc';
import LineVoiceActions, { POLL_MS, POLL_TRIES, duration } from 'c/lineVoiceActions';
import offerCall from '@salesforce/apex/LineVoiceController.offerCall';
import guideToLine from '@salesforce/apex/LineVoiceController.guideToLine';
import guideResult from '@salesforce/apex/LineVoiceController.guideResult';
import calls from '@salesforce/apex/LineVoiceController.calls';

jest.mock('@salesforce/apex/LineVoiceController.offerCall', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineVoiceController.guideToLine', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineVoiceController.guideResult', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineVoiceController.calls', () => ({ default: jest.fn() }), { virtual: true });

const flush = () => Promise.resolve().then(() => Promise.resolve()).then(() => Promise.resolve());
const $ = (element, selector) => element.shadowRoot.querySelector(selector);
const $$ = (element, selector) => Array.from(element.shadowRoot.querySelectorAll(selector));

function mount(objectApiName, recordId = 'a01000000000001AAA') {
    const element = createElement('c-line-voice-actions', { is: LineVoiceActions });
    element.objectApiName = objectApiName;
    element.recordId = recordId;
    document.body.appendChild(element);
    return element;
}

beforeEach(() => {
    jest.useFakeTimers();
    calls.mockResolvedValue([]);
});

afterEach(() => {
    while (document.body.firstChild) document.body.removeChild(document.body.firstChild);
    jest.clearAllMocks();
    jest.useRealTimers();
});

describe('c-line-voice-actions', () => {
    it('offers a call from an open chat session and says it was sent', async () => {
        offerCall.mockResolvedValue({ envelopeId: 'e1' });
        const element = mount('LINE_Chat_Session__c', 'a01SESSION');
        await flush();
        expect($(element, 'lightning-button.guide')).toBeNull();
        $(element, 'lightning-button.offer').click();
        await flush();
        expect(offerCall).toHaveBeenCalledWith({ sessionId: 'a01SESSION' });
        expect($(element, '.message').textContent).toBe('c.LINE_Voice_Offer_Sent');
    });

    it('shows why an offer was refused', async () => {
        offerCall.mockRejectedValue({ body: { message: 'This chat is closed: a call can be offered only in an open chat.' } });
        const element = mount('LINE_Chat_Session__c');
        await flush();
        $(element, 'lightning-button.offer').click();
        await flush();
        expect($(element, '.error').textContent).toContain('closed');
    });

    it('guides a Case to LINE and shows the result the relay recorded', async () => {
        guideToLine.mockResolvedValue({ envelopeId: 'e2', resultKey: 'guide:g-abc' });
        guideResult.mockResolvedValueOnce(null).mockResolvedValueOnce('No Match');
        const element = mount('Case', '500CASE');
        await flush();
        expect($(element, 'lightning-button.offer')).toBeNull();
        $(element, 'lightning-button.guide').click();
        await flush();
        expect(guideToLine).toHaveBeenCalledWith({ recordId: '500CASE' });
        expect($(element, '.message').textContent).toBe('c.LINE_Voice_Guide_Sending');
        jest.advanceTimersByTime(POLL_MS);
        await flush();
        jest.advanceTimersByTime(POLL_MS);
        await flush();
        expect(guideResult).toHaveBeenCalledTimes(2);
        expect(guideResult).toHaveBeenLastCalledWith({ resultKey: 'guide:g-abc' });
        expect($(element, '.message').textContent).toBe('c.LINE_Voice_Result_No_Match');
    });

    it('stops polling after the last try and says the result is pending', async () => {
        guideToLine.mockResolvedValue({ envelopeId: 'e3', resultKey: 'guide:g-def' });
        guideResult.mockResolvedValue(null);
        const element = mount('Task', '00TCALL');
        await flush();
        $(element, 'lightning-button.guide').click();
        await flush();
        for (let i = 0; i < POLL_TRIES + 3; i++) {
            jest.advanceTimersByTime(POLL_MS);
            await flush();
        }
        expect(guideResult).toHaveBeenCalledTimes(POLL_TRIES);
        expect($(element, '.message').textContent).toBe('c.LINE_Voice_Guide_Pending');
    });

    it('lists the calls on a Case with status and duration', async () => {
        calls.mockResolvedValue([
            { id: '00T1', flow: 'LINE to Call', callType: 'Inbound', status: 'completed', durationSeconds: 215 },
            { id: '00T2', flow: 'Call to LINE', callType: 'Inbound', status: 'completed', durationSeconds: 12, result: 'LINE Sent' }
        ]);
        const element = mount('Case', '500CASE');
        await flush();
        const rows = $$(element, 'li.call').map((li) => li.textContent);
        expect(rows).toEqual([
            'LINE to Call · Inbound · completed · 3:35',
            'Call to LINE · Inbound · completed · 0:12 · c.LINE_Voice_Result_LINE_Sent'
        ]);
    });

    it('says so when there are no calls', async () => {
        const element = mount('LINE_Chat_Session__c');
        await flush();
        expect($(element, '.no-calls').textContent).toBe('c.LINE_Voice_No_Calls');
    });

    it('formats durations as minutes and seconds', () => {
        expect(duration(0)).toBe('0:00');
        expect(duration(65)).toBe('1:05');
        expect(duration(undefined)).toBe('');
    });
});
