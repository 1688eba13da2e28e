import { createElement } from 'lwc';
import LinePresence, { HEARTBEAT_MS, STORAGE_KEY } from 'c/linePresence';
import setPresence from '@salesforce/apex/LinePresenceController.setPresence';

jest.mock('@salesforce/apex/LinePresenceController.setPresence', () => ({ default: jest.fn() }), { virtual: true });

// Fake timers drive the heartbeat; Node's own setImmediate (not faked, jsdom has none) lets every
// pending promise callback run.
const { setImmediate } = require('timers');
const flushPromises = () => new Promise((resolve) => setImmediate(resolve));

function mount() {
    const element = createElement('c-line-presence', { is: LinePresence });
    document.body.appendChild(element);
    return element;
}

const $ = (element, selector) => element.shadowRoot.querySelector(selector);

function choose(element, status) {
    $(element, 'lightning-radio-group').dispatchEvent(new CustomEvent('change', { detail: { value: status } }));
}

function setCapacity(element, value) {
    $(element, 'lightning-input.capacity').dispatchEvent(new CustomEvent('change', { detail: { value } }));
}

beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    window.localStorage.clear();
    setPresence.mockImplementation(({ status, capacity }) => Promise.resolve({ status, capacity }));
});

afterEach(() => {
    while (document.body.firstChild) document.body.removeChild(document.body.firstChild);
    jest.clearAllMocks();
    jest.useRealTimers();
});

describe('c-line-presence', () => {
    it('starts Offline with the labelled statuses and sends nothing', async () => {
        const element = mount();
        await flushPromises();
        expect($(element, '.status').textContent).toBe('LINE: Offline');
        const group = $(element, 'lightning-radio-group');
        expect(group.label).toBe('Status');
        expect(group.options).toEqual([
            { label: 'Available', value: 'Available' },
            { label: 'Busy', value: 'Busy' },
            { label: 'Away', value: 'Away' },
            { label: 'Offline', value: 'Offline' }
        ]);
        expect($(element, 'lightning-input.capacity').label).toBe('Capacity (parallel chats)');
        expect(setPresence).not.toHaveBeenCalled();
    });

    it('sends the status change with the capacity and heartbeats while Available', async () => {
        const element = mount();
        choose(element, 'Available');
        await flushPromises();
        expect(setPresence).toHaveBeenCalledWith({ status: 'Available', capacity: 3 });
        expect($(element, '.status').textContent).toBe('LINE: Available');
        expect($(element, '.status').className).toContain('status-available');
        expect(JSON.parse(window.localStorage.getItem(STORAGE_KEY))).toEqual({ status: 'Available', capacity: 3 });

        jest.advanceTimersByTime(HEARTBEAT_MS);
        expect(setPresence).toHaveBeenCalledTimes(2);
        jest.advanceTimersByTime(HEARTBEAT_MS);
        expect(setPresence).toHaveBeenCalledTimes(3);
        expect(setPresence).toHaveBeenLastCalledWith({ status: 'Available', capacity: 3 });

        choose(element, 'Busy');
        await flushPromises();
        expect(setPresence).toHaveBeenLastCalledWith({ status: 'Busy', capacity: 3 });
        jest.advanceTimersByTime(HEARTBEAT_MS * 3);
        expect(setPresence).toHaveBeenCalledTimes(4);
    });

    it('sends a capacity change for an online operator only', async () => {
        const element = mount();
        setCapacity(element, '4');
        await flushPromises();
        expect(setPresence).not.toHaveBeenCalled();

        choose(element, 'Available');
        await flushPromises();
        expect(setPresence).toHaveBeenLastCalledWith({ status: 'Available', capacity: 4 });
        setCapacity(element, '5');
        await flushPromises();
        expect(setPresence).toHaveBeenLastCalledWith({ status: 'Available', capacity: 5 });
        setCapacity(element, '');
        await flushPromises();
        expect(setPresence).toHaveBeenCalledTimes(2);
    });

    it('keeps the capacity it asked for when the relay answers without one', async () => {
        setPresence.mockImplementation(({ status }) => Promise.resolve({ status, capacity: 0 }));
        const element = mount();
        choose(element, 'Away');
        await flushPromises();
        expect($(element, 'lightning-input.capacity').value).toBe(3);
    });

    it('shows relay errors, also from a heartbeat, and stops the heartbeat when removed', async () => {
        setPresence.mockRejectedValueOnce({ body: { message: 'The LINE connector did not accept the presence update (HTTP 503).' } });
        const element = mount();
        choose(element, 'Away');
        await flushPromises();
        expect($(element, '.error').textContent).toBe('The LINE connector did not accept the presence update (HTTP 503).');
        expect($(element, '.status').textContent).toBe('LINE: Offline');

        choose(element, 'Available');
        await flushPromises();
        expect($(element, '.error')).toBeNull();
        setPresence.mockRejectedValueOnce(new Error('offline'));
        jest.advanceTimersByTime(HEARTBEAT_MS);
        await flushPromises();
        expect($(element, '.error').textContent).toBe('offline');

        document.body.removeChild(element);
        jest.advanceTimersByTime(HEARTBEAT_MS * 2);
        expect(setPresence).toHaveBeenCalledTimes(3);
    });

    it('says "Unknown error" for an error without a message', async () => {
        setPresence.mockRejectedValueOnce(undefined);
        const element = mount();
        choose(element, 'Busy');
        await flushPromises();
        expect($(element, '.error').textContent).toBe('Unknown error');
    });

    it('re-announces the saved presence on load', async () => {
        window.localStorage.setItem(STORAGE_KEY, JSON.stringify({ status: 'Available', capacity: 2 }));
        const element = mount();
        await flushPromises();
        expect(setPresence).toHaveBeenCalledWith({ status: 'Available', capacity: 2 });
        expect($(element, '.status').textContent).toBe('LINE: Available');
    });

    it('keeps a saved Offline state without calling the relay', async () => {
        window.localStorage.setItem(STORAGE_KEY, JSON.stringify({ status: 'Offline', capacity: 6 }));
        const element = mount();
        await flushPromises();
        expect(setPresence).not.toHaveBeenCalled();
        expect($(element, 'lightning-input.capacity').value).toBe(6);
    });

    it('ignores an unreadable or unknown saved state', async () => {
        window.localStorage.setItem(STORAGE_KEY, '{not json');
        mount();
        window.localStorage.setItem(STORAGE_KEY, JSON.stringify({ status: 'Sleeping', capacity: 2 }));
        mount();
        await flushPromises();
        expect(setPresence).not.toHaveBeenCalled();
    });
});
