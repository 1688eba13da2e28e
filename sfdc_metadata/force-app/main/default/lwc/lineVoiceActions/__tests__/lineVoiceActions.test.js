import { createElement } from 'lwc';
import LineVoiceActions, { POLL_MS, POLL_TRIES, RESULTS, duration } from 'c/lineVoiceActions';
import offerCall from '@salesforce/apex/LineVoiceController.offerCall';
import guideToLine from '@salesforce/apex/LineVoiceController.guideToLine';
import guideResult from '@salesforce/apex/LineVoiceController.guideResult';
import calls from '@salesforce/apex/LineVoiceController.calls';

jest.mock('@salesforce/apex/LineVoiceController.offerCall', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineVoiceController.guideToLine', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineVoiceController.guideResult', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineVoiceController.calls', () => ({ default: jest.fn() }), { virtual: true });

// enough microtask turns for an Apex promise, the code after it and a re-render
const flush = () => Array.from({ length: 10 }).reduce((p) => p.then(() => undefined), Promise.resolve());
// one poll after another: each timer is set only once the previous answer arrived
const polls = (n) =>
    Array.from({ length: n }).reduce(
        (previous) =>
            previous.then(() => {
                jest.advanceTimersByTime(POLL_MS);
                return flush();
            }),
        Promise.resolve()
    );
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
        expect($(element, '.message').textContent).toBe('The call offer was sent on LINE.');
    });

    it('shows why an offer was refused', async () => {
        offerCall.mockRejectedValue({ body: { message: 'This chat is closed: a call can be offered only in an open chat.' } });
        const element = mount('LINE_Chat_Session__c');
        await flush();
        $(element, 'lightning-button.offer').click();
        await flush();
        expect($(element, '.error').textContent).toContain('closed');
        expect($(element, '.message')).toBeNull();
    });

    it('guides a Case to LINE and shows the result the relay recorded, then the call list again', async () => {
        guideToLine.mockResolvedValue({ envelopeId: 'e2', resultKey: 'guide:g-abc' });
        guideResult.mockResolvedValueOnce(null).mockResolvedValueOnce('No Match');
        const element = mount('Case', '500CASE');
        await flush();
        expect($(element, 'lightning-button.offer')).toBeNull();
        $(element, 'lightning-button.guide').click();
        await flush();
        expect(guideToLine).toHaveBeenCalledWith({ recordId: '500CASE' });
        expect($(element, '.message').textContent).toBe('Looking up the number on LINE…');
        await polls(2);
        expect(guideResult).toHaveBeenCalledTimes(2);
        expect(guideResult).toHaveBeenLastCalledWith({ resultKey: 'guide:g-abc' });
        expect($(element, '.message').textContent).toBe(
            'No verified LINE account has this number. Ask the customer to add the account as a friend.'
        );
        expect(calls).toHaveBeenCalledTimes(2); // on load, and after the result
    });

    it('stops polling after the last try and says the result is pending', async () => {
        guideToLine.mockResolvedValue({ envelopeId: 'e3', resultKey: 'guide:g-def' });
        guideResult.mockResolvedValue(null);
        const element = mount('Task', '00TCALL');
        await flush();
        expect(calls).not.toHaveBeenCalled(); // a call's own page lists no calls
        $(element, 'lightning-button.guide').click();
        await flush();
        await polls(POLL_TRIES + 3);
        expect(guideResult).toHaveBeenCalledTimes(POLL_TRIES);
        expect($(element, '.message').textContent).toBe('No result yet; it will appear in the activity history.');
    });

    it('shows why a guide was refused', async () => {
        guideToLine.mockRejectedValue({ body: { message: 'This Case has no phone number to look up on LINE.' } });
        const element = mount('Case');
        await flush();
        $(element, 'lightning-button.guide').click();
        await flush();
        expect($(element, '.error').textContent).toBe('This Case has no phone number to look up on LINE.');
        expect($(element, '.message')).toBeNull();
    });

    it('shows an error while reading the result', async () => {
        guideToLine.mockResolvedValue({ envelopeId: 'e4', resultKey: 'guide:g-ghi' });
        guideResult.mockRejectedValue(new Error('Read timed out'));
        const element = mount('Task');
        await flush();
        $(element, 'lightning-button.guide').click();
        await flush();
        await polls(1);
        expect($(element, '.error').textContent).toBe('Read timed out');
    });

    it('stops polling when removed from the page', async () => {
        guideToLine.mockResolvedValue({ envelopeId: 'e5', resultKey: 'guide:g-jkl' });
        guideResult.mockResolvedValue(null);
        const element = mount('Task');
        await flush();
        $(element, 'lightning-button.guide').click();
        await flush();
        document.body.removeChild(element);
        await polls(3);
        expect(guideResult).not.toHaveBeenCalled();
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
            "Call to LINE · Inbound · completed · 0:12 · Sent on LINE to the customer's linked account."
        ]);
    });

    it('says so when there are no calls, and shows an error reading them', async () => {
        const element = mount('LINE_Chat_Session__c');
        await flush();
        expect($(element, '.no-calls').textContent).toBe('No calls yet.');
        calls.mockRejectedValue({ body: { message: 'Insufficient access' } });
        const other = mount('Case');
        await flush();
        expect($(other, '.error').textContent).toBe('Insufficient access');
    });

    it('shows a result it has no text for as recorded, and errors without a message', async () => {
        calls.mockResolvedValue(null);
        guideToLine.mockResolvedValueOnce({ envelopeId: 'e6', resultKey: 'guide:g-mno' }).mockRejectedValueOnce({});
        guideResult.mockResolvedValue('Some New Result');
        const element = mount('Case');
        await flush();
        expect($(element, '.no-calls').textContent).toBe('No calls yet.');
        $(element, 'lightning-button.guide').click();
        await flush();
        await polls(1);
        expect($(element, '.message').textContent).toBe('Some New Result');
        $(element, 'lightning-button.guide').click();
        await flush();
        expect($(element, '.error').textContent).toBe('Unknown error');
    });

    it('has an operator text for every result the relay records', () => {
        expect(Object.keys(RESULTS).sort()).toEqual(
            ['LINE Failed', 'LINE Sent', 'No Match', 'PNP Delivered', 'PNP Sent', 'PNP Undelivered', 'PNP Unavailable', 'Withheld'].sort()
        );
        expect(Object.values(RESULTS).every((text) => text && !text.startsWith('c.'))).toBe(true);
    });

    it('formats durations as minutes and seconds', () => {
        expect(duration(0)).toBe('0:00');
        expect(duration(65)).toBe('1:05');
        expect(duration(undefined)).toBe('');
    });
});
