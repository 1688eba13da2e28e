import { createElement } from 'lwc';
import LineVoiceDevice from 'c/lineVoiceDevice';
import { loadScript } from 'lightning/platformResourceLoader';
import { NavigationMixin } from 'lightning/navigation';
import deviceToken from '@salesforce/apex/LineVoiceController.deviceToken';

jest.mock('@salesforce/apex/LineVoiceController.deviceToken', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('lightning/platformResourceLoader', () => ({ loadScript: jest.fn() }), { virtual: true });
jest.mock(
    'lightning/navigation',
    () => {
        const Navigate = Symbol('Navigate');
        const navigate = jest.fn();
        const Mixin = (Base) =>
            class extends Base {
                [Navigate](pageReference) {
                    navigate(pageReference);
                }
            };
        Mixin.Navigate = Navigate;
        Mixin.navigate = navigate;
        return { NavigationMixin: Mixin };
    },
    { virtual: true }
);

// The parts of the Twilio Voice SDK the component uses: Device (register, incoming calls, token
// renewal) and Call (accept, reject, disconnect, mute, customParameters).
class FakeEmitter {
    handlers = {};
    on(event, handler) {
        this.handlers[event] = handler;
    }
    emit(event, ...args) {
        if (this.handlers[event]) this.handlers[event](...args);
    }
}

class FakeCall extends FakeEmitter {
    constructor(parameters) {
        super();
        this.customParameters = parameters === null ? undefined : new Map(Object.entries(parameters));
        this.accept = jest.fn(() => this.emit('accept'));
        this.reject = jest.fn(() => this.emit('reject'));
        this.disconnect = jest.fn(() => this.emit('disconnect'));
        this.mute = jest.fn();
    }
}

class FakeDevice extends FakeEmitter {
    static instances = [];
    static isSupported = true;
    constructor(token, options) {
        super();
        this.token = token;
        this.options = options;
        this.register = jest.fn(async () => this.emit('registered'));
        this.updateToken = jest.fn();
        this.destroy = jest.fn();
        FakeDevice.instances.push(this);
    }
}

const flush = () => Array.from({ length: 10 }).reduce((p) => p.then(() => undefined), Promise.resolve());
const $ = (element, selector) => element.shadowRoot.querySelector(selector);
const text = (element, selector) => ($(element, selector) || { textContent: null }).textContent;

function mount() {
    const element = createElement('c-line-voice-device', { is: LineVoiceDevice });
    document.body.appendChild(element);
    return element;
}

async function started() {
    const element = mount();
    $(element, 'lightning-button.start').click();
    await flush();
    return { element, device: FakeDevice.instances[FakeDevice.instances.length - 1] };
}

async function ringing(parameters = { caseId: '500000000000001AAA' }) {
    const { element, device } = await started();
    const call = new FakeCall(parameters);
    device.emit('incoming', call);
    await flush();
    return { element, device, call };
}

beforeEach(() => {
    FakeDevice.instances = [];
    FakeDevice.isSupported = true;
    window.Twilio = { Device: FakeDevice };
    Object.defineProperty(navigator, 'mediaDevices', { value: { getUserMedia: jest.fn() }, configurable: true });
    loadScript.mockResolvedValue(undefined);
    deviceToken.mockResolvedValue({ token: 'jwt-1', identity: 'operator-005000000000001AAA', ttl: 3600 });
});

afterEach(() => {
    while (document.body.firstChild) document.body.removeChild(document.body.firstChild);
    jest.clearAllMocks();
    delete window.Twilio;
});

describe('c-line-voice-device', () => {
    it('waits for the operator before loading anything', async () => {
        const element = mount();
        await flush();
        expect(loadScript).not.toHaveBeenCalled();
        expect(deviceToken).not.toHaveBeenCalled();
        expect($(element, 'lightning-button.start').label).toBe('Take calls in this browser');
    });

    it('registers a phone with the relay token and says calls ring here', async () => {
        const { element, device } = await started();
        expect(loadScript).toHaveBeenCalledTimes(1);
        expect(device.token).toBe('jwt-1');
        expect(device.options.closeProtection).toBe(true);
        expect(device.register).toHaveBeenCalled();
        expect(text(element, '.status')).toBe('Ready: the calls you offer ring here.');
        expect($(element, 'lightning-button.stop')).not.toBeNull();
        expect($(element, 'lightning-button.start')).toBeNull();
    });

    it('shows a ringing call with answer, decline and its Case', async () => {
        const { element } = await ringing();
        expect(text(element, '.status')).toBe('A LINE customer is calling');
        expect($(element, 'lightning-button.accept').label).toBe('Answer');
        expect($(element, 'lightning-button.reject').label).toBe('Decline');
        expect($(element, 'lightning-button.open-case').label).toBe('Open the Case');
    });

    it('answers, mutes, unmutes and hangs up, then waits for the next call', async () => {
        const { element, call } = await ringing();
        $(element, 'lightning-button.accept').click();
        await flush();
        expect(call.accept).toHaveBeenCalled();
        expect(text(element, '.status')).toBe('In call');
        $(element, 'lightning-button.mute').click();
        await flush();
        expect(call.mute).toHaveBeenLastCalledWith(true);
        expect($(element, 'lightning-button.mute').label).toBe('Unmute');
        $(element, 'lightning-button.mute').click();
        await flush();
        expect(call.mute).toHaveBeenLastCalledWith(false);
        $(element, 'lightning-button.hang-up').click();
        await flush();
        expect(call.disconnect).toHaveBeenCalled();
        expect(text(element, '.message')).toBe('The call ended.');
        expect(text(element, '.status')).toBe('Ready: the calls you offer ring here.');
        expect($(element, 'lightning-button.open-case')).toBeNull();
    });

    it('declines a ringing call', async () => {
        const { element, call } = await ringing();
        $(element, 'lightning-button.reject').click();
        await flush();
        expect(call.reject).toHaveBeenCalled();
        expect(text(element, '.message')).toBe('The call ended.');
    });

    it('stops ringing when the caller hangs up first', async () => {
        const { element, call } = await ringing();
        call.emit('cancel');
        await flush();
        expect($(element, 'lightning-button.accept')).toBeNull();
        expect(text(element, '.message')).toBe('The call ended.');
    });

    it('opens the Case of the chat the call was offered in', async () => {
        const { element } = await ringing({ caseId: '500000000000002AAA' });
        $(element, 'lightning-button.open-case').click();
        await flush();
        expect(NavigationMixin.navigate).toHaveBeenCalledWith({
            type: 'standard__recordPage',
            attributes: { recordId: '500000000000002AAA', objectApiName: 'Case', actionName: 'view' }
        });
    });

    it('offers no Case link for a call without one', async () => {
        const { element } = await ringing(null);
        expect($(element, 'lightning-button.accept')).not.toBeNull();
        expect($(element, 'lightning-button.open-case')).toBeNull();
    });

    it('declines a second call while one is ringing', async () => {
        const { element, device, call } = await ringing();
        const second = new FakeCall({});
        device.emit('incoming', second);
        await flush();
        expect(second.reject).toHaveBeenCalled();
        expect(call.reject).not.toHaveBeenCalled();
        expect(text(element, '.status')).toBe('A LINE customer is calling');
    });

    it('stays in the call when the phone registers again', async () => {
        const { element, device, call } = await ringing();
        call.accept();
        device.emit('registered');
        await flush();
        expect(text(element, '.status')).toBe('In call');
    });

    it('renews its token before it expires', async () => {
        const { device } = await started();
        deviceToken.mockResolvedValue({ token: 'jwt-2', identity: 'operator-005000000000001AAA', ttl: 3600 });
        device.emit('tokenWillExpire');
        await flush();
        expect(device.updateToken).toHaveBeenCalledWith('jwt-2');
    });

    it('says so when a renewal fails', async () => {
        const { element, device } = await started();
        deviceToken.mockRejectedValue(undefined);
        device.emit('tokenWillExpire');
        await flush();
        expect(text(element, '.error')).toBe('Unknown error');
    });

    it('shows an error the phone reports', async () => {
        const { element, device } = await started();
        device.emit('error', { message: 'AccessTokenInvalid (20101)' });
        await flush();
        expect(text(element, '.error')).toBe('AccessTokenInvalid (20101)');
    });

    it.each([
        ['the SDK is missing', () => delete window.Twilio],
        ['the SDK says WebRTC is unsupported', () => (FakeDevice.isSupported = false)],
        ['there is no microphone API', () => Object.defineProperty(navigator, 'mediaDevices', { value: undefined, configurable: true })]
    ])('says the browser cannot take calls when %s, without asking for a token', async (_, breakIt) => {
        breakIt();
        const element = mount();
        $(element, 'lightning-button.start').click();
        await flush();
        expect(deviceToken).not.toHaveBeenCalled();
        expect(text(element, '.error')).toBe('This browser cannot take calls (no WebRTC or no microphone).');
        expect($(element, 'lightning-button.start')).not.toBeNull();
    });

    it('shows why the relay gave no token and can be started again', async () => {
        deviceToken.mockRejectedValue({ body: { message: 'The relay refused the request: HTTP 404 {"error":"not found"}' } });
        const element = mount();
        $(element, 'lightning-button.start').click();
        await flush();
        expect(text(element, '.error')).toContain('HTTP 404');
        expect(FakeDevice.instances).toHaveLength(0);
        expect($(element, 'lightning-button.start')).not.toBeNull();
    });

    it('stops taking calls when asked, and when it leaves the page', async () => {
        const { element, device } = await started();
        $(element, 'lightning-button.stop').click();
        await flush();
        expect(device.destroy).toHaveBeenCalledTimes(1);
        expect($(element, 'lightning-button.start')).not.toBeNull();

        const again = await started();
        document.body.removeChild(again.element);
        expect(again.device.destroy).toHaveBeenCalledTimes(1);
    });

    it('goes off, not back to ready, when a call ends after the phone was stopped', async () => {
        const { element, call } = await ringing();
        document.body.removeChild(element);
        call.emit('disconnect');
        document.body.appendChild(element);
        await flush();
        expect($(element, 'lightning-button.start')).not.toBeNull();
    });
});
