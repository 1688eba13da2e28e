import { createElement } from 'lwc';
import LinePresence, { HEARTBEAT_MS } from 'c/linePresence';
import setPresence from '@salesforce/apex/LinePresenceController.setPresence';

jest.mock('@salesforce/apex/LinePresenceController.setPresence', () => ({ default: jest.fn() }), { virtual: true });

const flush = () => Promise.resolve().then(() => Promise.resolve());

function mount() {
    const element = createElement('c-line-presence', { is: LinePresence });
    document.body.appendChild(element);
    return element;
}

beforeEach(() => {
    jest.useFakeTimers();
    window.localStorage.clear();
    setPresence.mockImplementation(({ status, capacity }) => Promise.resolve({ status, capacity }));
});

afterEach(() => {
    while (document.body.firstChild) document.body.removeChild(document.body.firstChild);
    jest.clearAllMocks();
    jest.useRealTimers();
});

const $ = (element, selector) => element.shadowRoot.querySelector(selector);

describe('c-line-presence', () => {
    it('sends the status change with the capacity and heartbeats while Available', async () => {
        const element = mount();
        $(element, 'lightning-radio-group').dispatchEvent(new CustomEvent('change', { detail: { value: 'Available' } }));
        await flush();
        expect(setPresence).toHaveBeenCalledWith({ status: 'Available', capacity: 3 });
        expect($(element, '.status').textContent).toBe('LINE: Available');

        jest.advanceTimersByTime(HEARTBEAT_MS);
        expect(setPresence).toHaveBeenCalledTimes(2);
        jest.advanceTimersByTime(HEARTBEAT_MS);
        expect(setPresence).toHaveBeenCalledTimes(3);
        expect(setPresence).toHaveBeenLastCalledWith({ status: 'Available', capacity: 3 });

        $(element, 'lightning-radio-group').dispatchEvent(new CustomEvent('change', { detail: { value: 'Busy' } }));
        await flush();
        expect(setPresence).toHaveBeenLastCalledWith({ status: 'Busy', capacity: 3 });
        jest.advanceTimersByTime(HEARTBEAT_MS * 3);
        expect(setPresence).toHaveBeenCalledTimes(4);
    });

    it('sends a capacity change for an online operator', async () => {
        const element = mount();
        $(element, 'lightning-radio-group').dispatchEvent(new CustomEvent('change', { detail: { value: 'Available' } }));
        await flush();
        $(element, 'lightning-input.capacity').dispatchEvent(new CustomEvent('change', { detail: { value: '5' } }));
        await flush();
        expect(setPresence).toHaveBeenLastCalledWith({ status: 'Available', capacity: 5 });
    });

    it('stops the heartbeat when removed and shows relay errors', async () => {
        setPresence.mockRejectedValueOnce({ body: { message: 'The LINE connector did not accept the presence update' } });
        const element = mount();
        $(element, 'lightning-radio-group').dispatchEvent(new CustomEvent('change', { detail: { value: 'Away' } }));
        await flush();
        await flush();
        expect($(element, '.error').textContent).toContain('did not accept');

        $(element, 'lightning-radio-group').dispatchEvent(new CustomEvent('change', { detail: { value: 'Available' } }));
        await flush();
        document.body.removeChild(element);
        jest.advanceTimersByTime(HEARTBEAT_MS * 2);
        expect(setPresence).toHaveBeenCalledTimes(2);
    });

    it('re-announces the saved presence on load', async () => {
        window.localStorage.setItem('linePresence.state', JSON.stringify({ status: 'Available', capacity: 2 }));
        mount();
        await flush();
        expect(setPresence).toHaveBeenCalledWith({ status: 'Available', capacity: 2 });
    });
});
