import { createElement } from 'lwc';
import LineChatConsole, { CHANNEL, DRAFT_PREFIX, SESSION_OBJECT, formatLabel } from 'c/lineChatConsole';
import { subscribe, unsubscribe, onError } from 'lightning/empApi';
import { refreshApex } from '@salesforce/apex';
import getSession from '@salesforce/apex/LineChatController.getSession';
import getTranscript from '@salesforce/apex/LineChatController.getTranscript';
import sendMessage from '@salesforce/apex/LineChatController.sendMessage';
import closeSession from '@salesforce/apex/LineChatController.closeSession';
import transferSession from '@salesforce/apex/LineChatController.transferSession';
import raiseFlag from '@salesforce/apex/LineChatController.raiseFlag';
import holdSession from '@salesforce/apex/LineChatController.holdSession';
import resumeSession from '@salesforce/apex/LineChatController.resumeSession';
import markRead from '@salesforce/apex/LineChatController.markRead';
import getCustomer from '@salesforce/apex/LineChatController.getCustomer';
import searchKnowledge from '@salesforce/apex/LineChatController.searchKnowledge';
import requestIdentityDocument from '@salesforce/apex/LineIdentityImageController.requestIdentityDocument';
import markIdentityImage from '@salesforce/apex/LineIdentityImageController.markIdentityImage';
import deleteIdentityImageNow from '@salesforce/apex/LineIdentityImageController.deleteIdentityImageNow';

jest.mock('@salesforce/apex', () => ({ refreshApex: jest.fn(() => Promise.resolve()) }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.getSession', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.getTranscript', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.sendMessage', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.closeSession', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.transferSession', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.raiseFlag', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.holdSession', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.resumeSession', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.markRead', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.searchKnowledge', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineIdentityImageController.requestIdentityDocument', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineIdentityImageController.markIdentityImage', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineIdentityImageController.deleteIdentityImageNow', () => ({ default: jest.fn() }), { virtual: true });
jest.mock(
    '@salesforce/apex/LineChatController.getCustomer',
    () => {
        const { createApexTestWireAdapter } = require('@salesforce/sfdx-lwc-jest');
        return { default: createApexTestWireAdapter(jest.fn()) };
    },
    { virtual: true }
);

const SESSION_ID = 'a01000000000001AAA';
const SESSION = {
    id: SESSION_ID,
    name: 'S-000001',
    sessionKey: '1234567890:U4af:01H8',
    status: 'Operator',
    friendName: 'Taro Yamada',
    language: 'ja'
};
const CUSTOMER = {
    friend: { Display_Name__c: 'Taro Yamada', Status__c: 'Following' },
    contact: { Name: 'Taro Yamada', Email: 'taro@example.com', Phone: '03-0000-0000' },
    cases: [{ id: '500000000000001AAA', caseNumber: '00001001', subject: 'Refund', status: 'New' }]
};
const msg = (id, fields) => ({
    id,
    direction: 'Inbound',
    type: 'text',
    unsent: false,
    sentAt: '2025-01-31T09:30:00.000Z',
    deliveryStatus: 'Received',
    ...fields
});
const TRANSCRIPT = [
    msg('m1', { text: 'I was charged twice' }),
    msg('m2', { direction: 'Bot', text: 'Let me connect you.', deliveryStatus: 'Sent' }),
    msg('m3', {
        direction: 'Operator',
        type: 'sticker',
        stickerPackageId: '446',
        stickerId: '1988',
        previewUrl: 'https://stickershop.line-scdn.net/stickershop/v1/sticker/1988/android/sticker.png',
        deliveryStatus: 'Pending',
        operatorName: 'Hanako'
    }),
    msg('m4', { type: 'image', contentDocumentId: '069000000000001AAA' }),
    msg('m5', { type: 'location', locationTitle: 'Tokyo Tower', locationAddress: 'Minato', latitude: 35.6586, longitude: 139.7454 }),
    msg('m6', { type: 'file', fileName: 'receipt.pdf', contentDocumentId: '069000000000002AAA' }),
    msg('m7', { text: null, unsent: true }),
    msg('m8', { direction: 'System', type: 'follow' }),
    msg('m9', { direction: 'Operator', text: 'Sorry about that.', deliveryStatus: 'Failed', deliveryError: 'HTTP 400', operatorName: 'Hanako' }),
    msg('m10', { type: 'video', contentDocumentId: '069000000000003AAA' })
];

// Resolves after every pending promise callback has run (Apex mocks resolve as microtasks); jsdom
// has no global setImmediate, Node's timers module has.
const { setImmediate } = require('timers');
const flushPromises = () => new Promise((resolve) => setImmediate(resolve));

async function mount(recordId = SESSION_ID) {
    const element = createElement('c-line-chat-console', { is: LineChatConsole });
    element.recordId = recordId;
    document.body.appendChild(element);
    await flushPromises();
    return element;
}

const $ = (element, selector) => element.shadowRoot.querySelector(selector);
const $$ = (element, selector) => Array.from(element.shadowRoot.querySelectorAll(selector));
const row = (element, id) => $(element, `li[data-id="${id}"]`);

/** The callback the component gave empApi.subscribe: what the platform calls per event. */
function publishedEvents() {
    expect(subscribe).toHaveBeenCalledWith(CHANNEL, -1, expect.any(Function));
    const deliver = subscribe.mock.calls[0][2];
    return (payload) => deliver({ data: { payload } });
}

function listenForToasts(element) {
    const toasts = jest.fn();
    element.addEventListener('lightning__showtoast', toasts);
    return () => toasts.mock.calls.map(([event]) => event.detail);
}

function type(element, selector, value) {
    const input = $(element, selector);
    input.value = value;
    input.dispatchEvent(new CustomEvent('change'));
}

beforeEach(() => {
    window.localStorage.clear();
    getSession.mockResolvedValue(SESSION);
    getTranscript.mockResolvedValue(TRANSCRIPT);
    markRead.mockResolvedValue({ accepted: true });
    subscribe.mockResolvedValue({ id: 'sub-1', channel: CHANNEL });
});

afterEach(() => {
    while (document.body.firstChild) document.body.removeChild(document.body.firstChild);
    jest.clearAllMocks();
});

describe('c-line-chat-console transcript', () => {
    it('shows each kind of message the way LINE does, with the texts of the Custom Labels', async () => {
        const element = await mount();
        expect(getSession).toHaveBeenCalledWith({ recordId: SESSION_ID });
        expect(getTranscript).toHaveBeenCalledWith({ sessionId: SESSION_ID });
        expect($(element, 'lightning-card').title).toBe('LINE Chat');
        expect($(element, '.header').textContent).toBe('Taro Yamada · S-000001 · With an operator');

        expect($$(element, 'li[data-id]').map((r) => r.dataset.id)).toEqual(TRANSCRIPT.map((m) => m.id));
        expect(row(element, 'm1').className).toContain('row-left');
        expect(row(element, 'm1').querySelector('.bubble-in .text').textContent).toBe('I was charged twice');

        expect(row(element, 'm2').className).toContain('row-right');
        expect(row(element, 'm2').querySelector('.bubble-bot .bot-mark').textContent).toBe('Bot');
        expect(row(element, 'm2').querySelector('.meta span').textContent).toBe('Bot');

        const sticker = row(element, 'm3').querySelector('img.sticker');
        expect(sticker.src).toContain('/sticker/1988/');
        expect(sticker.alt).toBe('Sticker');
        expect(row(element, 'm3').querySelector('.pending').textContent).toBe('Sending…');
        expect(row(element, 'm3').querySelector('.meta span').textContent).toBe('Hanako');

        const image = row(element, 'm4').querySelector('img.image');
        expect(image.getAttribute('src')).toBe('/sfc/servlet.shepherd/document/download/069000000000001AAA');
        expect(image.alt).toBe('Image');
        const location = row(element, 'm5').querySelector('a.location');
        expect(location.textContent).toContain('Tokyo Tower');
        expect(location.href).toBe('https://www.google.com/maps/search/?api=1&query=35.6586,139.7454');
        const file = row(element, 'm6').querySelector('a.file');
        expect(file.textContent).toContain('receipt.pdf');
        expect(file.getAttribute('href')).toBe('/lightning/r/ContentDocument/069000000000002AAA/view');

        expect(row(element, 'm7').querySelector('.unsent').textContent).toBe('Message unsent by the customer');
        expect(row(element, 'm7').querySelector('.text')).toBeNull();
        expect(row(element, 'm8').className).toContain('row-center');
        expect(row(element, 'm8').querySelector('.event').textContent).toBe('Added the account as a friend');

        const failed = row(element, 'm9').querySelector('.failed');
        expect(failed.textContent).toBe('Not delivered');
        expect(failed.title).toBe('HTTP 400');
        expect(row(element, 'm10').querySelector('a.media').textContent).toBe('video');
        expect(markRead).toHaveBeenCalledWith({ sessionId: SESSION_ID });
    });

    it('does not send read receipts for a chat no operator has taken', async () => {
        getSession.mockResolvedValue({ ...SESSION, status: 'Queued' });
        const element = await mount();
        expect($(element, '.header').textContent).toContain('Waiting for an operator');
        expect(markRead).not.toHaveBeenCalled();
    });

    it('ignores a failed read receipt', async () => {
        markRead.mockRejectedValue({ body: { message: 'HTTP 503' } });
        const element = await mount();
        expect($(element, '.error')).toBeNull();
    });

    it('renders only the card for a Case without a LINE session', async () => {
        getSession.mockResolvedValue(null);
        const element = await mount('500000000000001AAA');
        expect(getSession).toHaveBeenCalledWith({ recordId: '500000000000001AAA' });
        expect($(element, '.transcript')).toBeNull();
        expect(subscribe).not.toHaveBeenCalled();
        expect(getCustomer.getLastConfig()).toEqual({ sessionId: undefined });
    });

    it('shows why the chat cannot be loaded', async () => {
        getSession.mockRejectedValue({ body: { message: 'You do not have access to LINE chats: LINE_Chat_Session__c' } });
        const element = await mount();
        expect($(element, '.error').textContent).toBe('You do not have access to LINE chats: LINE_Chat_Session__c');
    });

    it('shows errors without a message body as text', async () => {
        getTranscript.mockRejectedValue(new Error('network down'));
        const element = await mount();
        expect($(element, '.error').textContent).toBe('network down');
    });

    it('joins the messages of a list of errors', async () => {
        getTranscript.mockRejectedValue({ body: [{ message: 'first' }, { message: 'second' }] });
        const element = await mount();
        expect($(element, '.error').textContent).toBe('first, second');
    });

    it('says the live updates stopped when the streaming connection fails', async () => {
        const element = await mount();
        const reportError = onError.mock.calls[0][0];
        reportError({ error: 'handshake denied' });
        await flushPromises();
        expect($(element, '.error').textContent).toBe('Live updates interrupted: {"error":"handshake denied"}');
    });
});

describe('c-line-chat-console live updates', () => {
    it('reloads the transcript on a change of a message of its session only', async () => {
        const element = await mount();
        const publish = publishedEvents();
        expect(getTranscript).toHaveBeenCalledTimes(1);

        publish({ Session_Id__c: 'a01000000000099AAA', Object__c: 'LINE_Chat_Message__c', Change_Type__c: 'CREATE', Direction__c: 'Inbound' });
        await flushPromises();
        expect(getTranscript).toHaveBeenCalledTimes(1);

        getTranscript.mockResolvedValue([...TRANSCRIPT, msg('m11', { text: 'Are you there?' })]);
        publish({ Session_Id__c: SESSION_ID, Object__c: 'LINE_Chat_Message__c', Change_Type__c: 'CREATE', Direction__c: 'Inbound' });
        await flushPromises();
        expect(getTranscript).toHaveBeenCalledTimes(2);
        expect(row(element, 'm11').querySelector('.text').textContent).toBe('Are you there?');
        expect(markRead).toHaveBeenCalledTimes(2);

        // A delivery status update of an operator message: reload, no read receipt.
        publish({ Session_Id__c: SESSION_ID, Object__c: 'LINE_Chat_Message__c', Change_Type__c: 'UPDATE', Direction__c: 'Operator' });
        await flushPromises();
        expect(getTranscript).toHaveBeenCalledTimes(3);
        expect(markRead).toHaveBeenCalledTimes(2);

        publish(undefined);
        await flushPromises();
        expect(getTranscript).toHaveBeenCalledTimes(3);

        document.body.removeChild(element);
        expect(unsubscribe).toHaveBeenCalledWith({ id: 'sub-1', channel: CHANNEL });
    });

    it('reloads the session and the customer panel when the relay changes the session', async () => {
        const element = await mount();
        getCustomer.emit(CUSTOMER);
        const publish = publishedEvents();
        getSession.mockResolvedValue({ ...SESSION, status: 'Closed' });

        publish({ Session_Id__c: SESSION_ID, Object__c: SESSION_OBJECT, Change_Type__c: 'UPDATE' });
        await flushPromises();

        expect(getSession).toHaveBeenLastCalledWith({ recordId: SESSION_ID });
        expect(refreshApex).toHaveBeenCalledTimes(1);
        expect($(element, '.header').textContent).toContain('Closed');
        expect($(element, 'lightning-textarea.draft').disabled).toBe(true);
        expect($(element, 'lightning-button.close').disabled).toBe(true);
        expect(getTranscript).toHaveBeenCalledTimes(1);
    });

    it('shows an error when a reload after an event fails', async () => {
        const element = await mount();
        const publish = publishedEvents();
        getTranscript.mockRejectedValue({ body: { message: 'Session expired' } });
        publish({ Session_Id__c: SESSION_ID, Object__c: 'LINE_Chat_Message__c', Change_Type__c: 'UPDATE' });
        await flushPromises();
        expect($(element, '.error').textContent).toBe('Session expired');
    });
});

describe('c-line-chat-console customer panel', () => {
    it('asks for the customer of the loaded session and shows friend, contact and cases', async () => {
        const element = await mount();
        expect(getCustomer.getLastConfig()).toEqual({ sessionId: SESSION_ID });
        getCustomer.emit(CUSTOMER);
        await flushPromises();
        expect($(element, '.friend-name').textContent).toBe('Taro Yamada');
        expect($(element, '.friend-status').textContent).toBe('Following');
        expect($(element, '.contact-name').textContent).toBe('Taro Yamada');
        expect($(element, '.cases li').textContent).toBe('00001001 Refund (New)');
        expect($(element, '.customer h3').textContent).toBe('Customer');
    });

    it('shows the satisfaction score of past inquiries that have one', async () => {
        const element = await mount();
        getCustomer.emit({
            ...CUSTOMER,
            cases: [
                { id: '500000000000001AAA', caseNumber: '00001001', subject: 'Refund', status: 'Closed', surveyScore: 2 },
                { id: '500000000000002AAA', caseNumber: '00001002', subject: 'Points', status: 'New' }
            ]
        });
        await flushPromises();
        const items = $$(element, '.cases li');
        expect(items[0].querySelector('.survey-score').textContent).toBe('Survey 2');
        expect(items[1].querySelector('.survey-score')).toBeNull();
    });

    it('says that a customer blocked the account', async () => {
        const element = await mount();
        getCustomer.emit({ friend: { Display_Name__c: 'Taro', Status__c: 'Unfollowed' }, cases: [] });
        await flushPromises();
        expect($(element, '.friend-status').textContent).toBe('Blocked the account');
        expect($(element, '.contact-name')).toBeNull();
    });

    it('shows that the customer was verified by support ID, and when', async () => {
        const element = await mount();
        getCustomer.emit({
            friend: { Display_Name__c: 'Taro', Status__c: 'Following', Verified__c: true, Verified_By__c: 'Support_ID', Verified_At__c: '2026-12-07T05:00:00.000Z' },
            cases: []
        });
        await flushPromises();
        expect($(element, '.verified-by').textContent).toBe('Verified by support ID');
        expect($(element, '.verified-at').value).toBe('2026-12-07T05:00:00.000Z');
    });

    it('says nothing about verification for a customer who is not verified', async () => {
        const element = await mount();
        getCustomer.emit(CUSTOMER);
        await flushPromises();
        expect($(element, '.friend-verified')).toBeNull();
    });

    it('shows why the customer could not be loaded', async () => {
        const element = await mount();
        getCustomer.error({ message: 'No access to Contact' });
        await flushPromises();
        expect($(element, '.error').textContent).toBe('No access to Contact');
        expect($(element, '.friend-name')).toBeNull();
    });
});

describe('c-line-chat-console composer', () => {
    it('sends the draft as a text message and clears it', async () => {
        sendMessage.mockResolvedValue(msg('m12', { direction: 'Operator', text: 'We refunded you.', deliveryStatus: 'Pending' }));
        const element = await mount();
        const send = $(element, 'lightning-button.send');
        expect(send.label).toBe('Send');
        expect(send.disabled).toBe(true);
        type(element, 'lightning-textarea.draft', 'We refunded you.');
        await flushPromises();
        expect(send.disabled).toBe(false);
        send.click();
        await flushPromises();

        expect(sendMessage).toHaveBeenCalledWith({
            sessionId: SESSION_ID,
            messageType: 'text',
            text: 'We refunded you.',
            stickerPackageId: null,
            stickerId: null,
            contentVersionId: null
        });
        expect(row(element, 'm12').querySelector('.text').textContent).toBe('We refunded you.');
        expect(window.localStorage.getItem(DRAFT_PREFIX + SESSION_ID)).toBeNull();
        expect($(element, 'lightning-textarea.draft').value).toBe('');
    });

    it('sends with Ctrl+Enter and not with Enter alone', async () => {
        sendMessage.mockResolvedValue(null);
        const element = await mount();
        type(element, 'lightning-textarea.draft', 'hello');
        const draft = $(element, 'lightning-textarea.draft');
        draft.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
        await flushPromises();
        expect(sendMessage).not.toHaveBeenCalled();
        draft.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', ctrlKey: true }));
        await flushPromises();
        expect(sendMessage).toHaveBeenCalledWith(expect.objectContaining({ messageType: 'text', text: 'hello' }));
    });

    it('keeps the draft and tells the operator when sending fails', async () => {
        sendMessage.mockRejectedValue({ body: { message: 'This chat is closed.' } });
        const element = await mount();
        const toasts = listenForToasts(element);
        type(element, 'lightning-textarea.draft', 'too late');
        await flushPromises();
        $(element, 'lightning-button.send').click();
        await flushPromises();
        expect(toasts()).toEqual([{ title: 'Message not sent', message: 'This chat is closed.', variant: 'error' }]);
        expect(window.localStorage.getItem(DRAFT_PREFIX + SESSION_ID)).toBe('too late');
    });

    it('does not send a blank draft', async () => {
        const element = await mount();
        type(element, 'lightning-textarea.draft', '   ');
        $(element, 'lightning-textarea.draft').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', metaKey: true }));
        await flushPromises();
        expect(sendMessage).not.toHaveBeenCalled();
    });

    it('restores the draft after a reload', async () => {
        window.localStorage.setItem(DRAFT_PREFIX + SESSION_ID, 'half-written reply');
        const element = await mount();
        expect($(element, 'lightning-textarea.draft').value).toBe('half-written reply');
    });

    it('works without localStorage (blocked by the browser)', async () => {
        const spy = jest.spyOn(window, 'localStorage', 'get').mockImplementation(() => {
            throw new Error('SecurityError');
        });
        try {
            sendMessage.mockResolvedValue(null);
            const element = await mount();
            type(element, 'lightning-textarea.draft', 'no storage');
            await flushPromises();
            $(element, 'lightning-button.send').click();
            await flushPromises();
            expect(sendMessage).toHaveBeenCalledWith(expect.objectContaining({ text: 'no storage' }));
            expect($(element, 'lightning-textarea.draft').value).toBe('');
        } finally {
            spy.mockRestore();
        }
    });

    it('sends a sticker from the picker and each uploaded image in order', async () => {
        sendMessage.mockResolvedValue(null);
        const element = await mount();
        expect($(element, 'button.sticker-option')).toBeNull();
        $(element, 'lightning-button-icon.sticker-toggle').click();
        await flushPromises();
        const options = $$(element, 'button.sticker-option');
        expect(options).toHaveLength(12);
        expect(options[0].querySelector('img').alt).toBe('Sticker');
        options[0].click();
        await flushPromises();
        expect(sendMessage).toHaveBeenCalledWith(
            expect.objectContaining({ messageType: 'sticker', stickerPackageId: '446', stickerId: '1988' })
        );
        expect($(element, 'button.sticker-option')).toBeNull();

        $(element, 'lightning-file-upload').dispatchEvent(
            new CustomEvent('uploadfinished', {
                detail: { files: [{ contentVersionId: '068000000000001AAA' }, { contentVersionId: '068000000000002AAA' }] }
            })
        );
        await flushPromises();
        expect(sendMessage.mock.calls.slice(1).map(([args]) => [args.messageType, args.contentVersionId])).toEqual([
            ['image', '068000000000001AAA'],
            ['image', '068000000000002AAA']
        ]);
    });

    it('sends nothing for an upload event without files', async () => {
        const element = await mount();
        $(element, 'lightning-file-upload').dispatchEvent(new CustomEvent('uploadfinished', { detail: {} }));
        await flushPromises();
        expect(sendMessage).not.toHaveBeenCalled();
    });
});

describe('c-line-chat-console knowledge', () => {
    it('searches in the customer language and inserts an article into the draft', async () => {
        searchKnowledge.mockResolvedValue([
            { id: 'ka1', title: 'Refund policy', summary: 'Refunds take 3 business days.' },
            { id: 'ka2', title: 'Opening hours' }
        ]);
        window.localStorage.setItem(DRAFT_PREFIX + SESSION_ID, 'Hello.');
        const element = await mount();
        expect($(element, '.articles')).toBeNull();
        type(element, 'lightning-input.search-term', 'refund');
        $(element, 'lightning-button.search').click();
        await flushPromises();
        expect(searchKnowledge).toHaveBeenCalledWith({ term: 'refund', language: 'ja' });
        expect($$(element, '.article-title').map((t) => t.textContent)).toEqual(['Refund policy', 'Opening hours']);

        $(element, 'lightning-button-icon.insert').click();
        await flushPromises();
        const expected = 'Hello.\nRefund policy\nRefunds take 3 business days.';
        expect($(element, 'lightning-textarea.draft').value).toBe(expected);
        expect(window.localStorage.getItem(DRAFT_PREFIX + SESSION_ID)).toBe(expected);
    });

    it('inserts only the title of an article without a summary into an empty draft', async () => {
        searchKnowledge.mockResolvedValue([{ id: 'ka2', title: 'Opening hours' }]);
        const element = await mount();
        $(element, 'lightning-button.search').click();
        await flushPromises();
        $(element, 'lightning-button-icon.insert').click();
        await flushPromises();
        expect($(element, 'lightning-textarea.draft').value).toBe('Opening hours');
    });

    it('tells the operator when the search fails and shows no stale results', async () => {
        searchKnowledge.mockResolvedValueOnce([{ id: 'ka1', title: 'Refund policy' }]);
        const element = await mount();
        const toasts = listenForToasts(element);
        $(element, 'lightning-button.search').click();
        await flushPromises();
        expect($(element, '.articles')).not.toBeNull();

        searchKnowledge.mockRejectedValueOnce({ body: { message: 'Knowledge search is not available: no Knowledge' } });
        $(element, 'lightning-button.search').click();
        await flushPromises();
        expect($(element, '.articles')).toBeNull();
        expect(toasts()).toEqual([
            { title: 'Knowledge search failed', message: 'Knowledge search is not available: no Knowledge', variant: 'error' }
        ]);
    });

    it('shows no results when the search finds nothing', async () => {
        searchKnowledge.mockResolvedValue(null);
        const element = await mount();
        $(element, 'lightning-button.search').click();
        await flushPromises();
        expect($(element, '.articles')).toBeNull();
    });
});

describe('c-line-chat-console close and transfer', () => {
    it('closes with a reason and tells the operator what happens next', async () => {
        closeSession.mockResolvedValue({ accepted: true });
        const element = await mount();
        const toasts = listenForToasts(element);
        expect($(element, 'lightning-button.close').label).toBe('Close chat');
        type(element, 'lightning-input.close-reason', 'Resolved');
        $(element, 'lightning-button.close').click();
        await flushPromises();
        expect(closeSession).toHaveBeenCalledWith({ sessionId: SESSION_ID, reason: 'Resolved' });
        expect(toasts()).toEqual([
            { title: 'Chat closed', message: 'The customer is told that the chat has ended.', variant: 'success' }
        ]);
        expect($(element, 'lightning-input.close-reason').value).toBe('');
    });

    it('shows an error toast when the relay rejects a close', async () => {
        closeSession.mockRejectedValue({ body: { message: 'The LINE connector did not accept the request (HTTP 401: stale).' } });
        const element = await mount();
        const toasts = listenForToasts(element);
        $(element, 'lightning-button.close').click();
        await flushPromises();
        expect(toasts()).toEqual([
            {
                title: 'Could not close the chat',
                message: 'The LINE connector did not accept the request (HTTP 401: stale).',
                variant: 'error'
            }
        ]);
    });

    it('transfers to the picked operator or back to the queue', async () => {
        transferSession.mockResolvedValue({ accepted: true });
        const element = await mount();
        const toasts = listenForToasts(element);
        $(element, 'lightning-record-picker.transfer-user').dispatchEvent(
            new CustomEvent('change', { detail: { recordId: '005000000000002AAA' } })
        );
        $(element, 'lightning-button.transfer').click();
        await flushPromises();
        expect(transferSession).toHaveBeenCalledWith({ sessionId: SESSION_ID, toUserId: '005000000000002AAA' });

        $(element, 'lightning-button.to-queue').click();
        await flushPromises();
        expect(transferSession).toHaveBeenLastCalledWith({ sessionId: SESSION_ID, toUserId: null });
        expect(toasts()).toEqual([
            { title: 'Chat transferred', message: 'Sent to the selected operator.', variant: 'success' },
            { title: 'Chat transferred', message: 'Returned to the queue.', variant: 'success' }
        ]);
    });

    it('transfers to the queue when the picker was cleared', async () => {
        transferSession.mockResolvedValue({ accepted: true });
        const element = await mount();
        $(element, 'lightning-record-picker.transfer-user').dispatchEvent(new CustomEvent('change', { detail: null }));
        $(element, 'lightning-button.transfer').click();
        await flushPromises();
        expect(transferSession).toHaveBeenCalledWith({ sessionId: SESSION_ID, toUserId: null });
    });

    it('shows an error toast when a transfer fails', async () => {
        transferSession.mockRejectedValue({ body: { message: 'HTTP 503' } });
        const element = await mount();
        const toasts = listenForToasts(element);
        $(element, 'lightning-button.to-queue').click();
        await flushPromises();
        expect(toasts()).toEqual([{ title: 'Could not transfer the chat', message: 'HTTP 503', variant: 'error' }]);
    });
});

describe('c-line-chat-console supervision', () => {
    it("marks a supervisor's whisper as internal on the operator's side", async () => {
        getTranscript.mockResolvedValue([
            msg('m1', { text: 'I was charged twice' }),
            msg('w1', { direction: 'Internal', text: 'Offer the refund form', deliveryStatus: null, operatorName: 'Sachiko' })
        ]);
        const element = await mount();
        const whisper = row(element, 'w1');
        expect(whisper.className).toContain('row-right');
        expect(whisper.querySelector('.bubble').className).toContain('bubble-internal');
        expect(whisper.querySelector('.internal-mark').textContent).toBe('Internal');
        expect(row(element, 'm1').querySelector('.internal-mark')).toBeNull();
    });

    it('asks a supervisor for help and confirms it', async () => {
        raiseFlag.mockResolvedValue(undefined);
        const element = await mount();
        const toasts = listenForToasts(element);
        $(element, 'lightning-button.raise-flag').click();
        await flushPromises();
        expect(raiseFlag).toHaveBeenCalledWith({ sessionId: SESSION_ID, note: null });
        expect(toasts()).toEqual([{ title: 'A supervisor has been asked to help.', message: null, variant: 'success' }]);
    });

    it('puts the chat on hold with a memo, then takes it back', async () => {
        holdSession.mockResolvedValue({ accepted: true });
        resumeSession.mockResolvedValue({ accepted: true });
        const element = await mount();
        const toasts = listenForToasts(element);
        type(element, 'lightning-input.hold-memo', 'Checking the warehouse');
        $(element, 'lightning-button.hold').click();
        await flushPromises();
        expect(holdSession).toHaveBeenCalledWith({ sessionId: SESSION_ID, memo: 'Checking the warehouse' });
        expect($(element, 'lightning-input.hold-memo').value).toBe('');
        $(element, 'lightning-button.resume').click();
        await flushPromises();
        expect(resumeSession).toHaveBeenCalledWith({ sessionId: SESSION_ID });
        expect(toasts()).toEqual([
            { title: 'The chat is on hold; the customer has been told.', message: null, variant: 'success' },
            { title: 'The chat is back with you.', message: null, variant: 'success' }
        ]);
    });

    it('shows why hold or resume failed, and holds without a memo', async () => {
        holdSession.mockRejectedValue({ body: { message: 'HTTP 503' } });
        resumeSession.mockRejectedValue({ body: { message: 'HTTP 503' } });
        const element = await mount();
        const toasts = listenForToasts(element);
        $(element, 'lightning-button.hold').click();
        await flushPromises();
        expect(holdSession).toHaveBeenCalledWith({ sessionId: SESSION_ID, memo: null });
        $(element, 'lightning-button.resume').click();
        await flushPromises();
        expect(toasts()).toEqual([
            { title: 'The action failed', message: 'HTTP 503', variant: 'error' },
            { title: 'The action failed', message: 'HTTP 503', variant: 'error' }
        ]);
    });

    it('shows why asking for help failed', async () => {
        raiseFlag.mockRejectedValue({ body: { message: 'You may view this chat but not change it.' } });
        const element = await mount();
        const toasts = listenForToasts(element);
        $(element, 'lightning-button.raise-flag').click();
        await flushPromises();
        expect(toasts()).toEqual([
            { title: 'The action failed', message: 'You may view this chat but not change it.', variant: 'error' }
        ]);
    });
});

describe('c-line-chat-console identity documents', () => {
    it('asks the customer for an ID document', async () => {
        requestIdentityDocument.mockResolvedValue({ accepted: true });
        const element = await mount();
        const toasts = listenForToasts(element);
        $(element, 'lightning-button.identity-request').click();
        await flushPromises();
        expect(requestIdentityDocument).toHaveBeenCalledWith({ sessionId: SESSION_ID });
        expect(toasts()).toEqual([{ title: 'Sent to the relay.', message: '', variant: 'success' }]);
    });

    it('marks a customer image as an ID document', async () => {
        markIdentityImage.mockResolvedValue({ accepted: true });
        const element = await mount();
        const button = row(element, 'm4').querySelector('lightning-button.identity-mark');
        expect(button.label).toBe('Mark as ID document');
        button.click();
        await flushPromises();
        expect(markIdentityImage).toHaveBeenCalledWith({ messageId: 'm4' });
    });

    it('offers to delete an ID document now, and shows it is one', async () => {
        getTranscript.mockResolvedValue([msg('m4', { type: 'image', contentDocumentId: '069000000000001AAA', identityDocument: true })]);
        deleteIdentityImageNow.mockRejectedValue({ body: { message: 'The LINE connector did not accept the request (HTTP 503).' } });
        const element = await mount();
        const toasts = listenForToasts(element);
        expect(row(element, 'm4').querySelector('.identity-badge').textContent).toBe('ID document (deleted after retention)');
        expect(row(element, 'm4').querySelector('lightning-button.identity-mark')).toBeNull();
        row(element, 'm4').querySelector('lightning-button.identity-delete').click();
        await flushPromises();
        expect(deleteIdentityImageNow).toHaveBeenCalledWith({ messageId: 'm4' });
        expect(toasts()).toEqual([
            { title: 'The ID document action failed', message: 'The LINE connector did not accept the request (HTTP 503).', variant: 'error' }
        ]);
    });

    it('shows the placeholder of a deleted ID document instead of the image', async () => {
        getTranscript.mockResolvedValue([
            msg('m4', { type: 'image', text: '[identity image deleted on 2026-12-07 UTC: retention period]', identityDocument: true })
        ]);
        const element = await mount();
        expect(row(element, 'm4').querySelector('img.image')).toBeNull();
        expect(row(element, 'm4').querySelector('.image-deleted').textContent).toBe('[identity image deleted on 2026-12-07 UTC: retention period]');
        expect(row(element, 'm4').querySelector('lightning-button.identity-delete')).toBeNull();
    });
});

describe('formatLabel', () => {
    it('fills numbered placeholders and leaves unknown ones', () => {
        expect(formatLabel('HTTP {0}: {1}', 401, 'stale')).toBe('HTTP 401: stale');
        expect(formatLabel('{0} and {2}', 'a')).toBe('a and {2}');
    });
});
