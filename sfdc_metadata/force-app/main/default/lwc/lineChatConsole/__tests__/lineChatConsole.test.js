import { createElement } from 'lwc';
import LineChatConsole, { CHANNEL, DRAFT_PREFIX } from 'c/lineChatConsole';
import { subscribe, unsubscribe } from 'lightning/empApi';
import getSession from '@salesforce/apex/LineChatController.getSession';
import getTranscript from '@salesforce/apex/LineChatController.getTranscript';
import sendMessage from '@salesforce/apex/LineChatController.sendMessage';
import closeSession from '@salesforce/apex/LineChatController.closeSession';
import transferSession from '@salesforce/apex/LineChatController.transferSession';
import markRead from '@salesforce/apex/LineChatController.markRead';
import getCustomer from '@salesforce/apex/LineChatController.getCustomer';
import searchKnowledge from '@salesforce/apex/LineChatController.searchKnowledge';

jest.mock('@salesforce/apex/LineChatController.getSession', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.getTranscript', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.sendMessage', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.closeSession', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.transferSession', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.markRead', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.getCustomer', () => ({ default: jest.fn() }), { virtual: true });
jest.mock('@salesforce/apex/LineChatController.searchKnowledge', () => ({ default: jest.fn() }), { virtual: true });

const SESSION_ID = 'a01000000000001AAA';
const SESSION = {
    id: SESSION_ID,
    name: 'S-000001',
    sessionKey: '1234567890:U4af:01H8',
    status: 'Operator',
    friendName: 'Taro Yamada',
    language: 'ja'
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
    msg('m8', { direction: 'System', type: 'follow' })
];

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

async function mount(recordId = SESSION_ID) {
    const element = createElement('c-line-chat-console', { is: LineChatConsole });
    element.recordId = recordId;
    document.body.appendChild(element);
    for (let i = 0; i < 5; i++) await flush();
    return element;
}

const $ = (element, selector) => element.shadowRoot.querySelector(selector);
const $$ = (element, selector) => Array.from(element.shadowRoot.querySelectorAll(selector));

beforeEach(() => {
    window.localStorage.clear();
    getSession.mockResolvedValue(SESSION);
    getTranscript.mockResolvedValue(TRANSCRIPT);
    getCustomer.mockResolvedValue({
        friend: { Display_Name__c: 'Taro Yamada', Status__c: 'Following' },
        contact: { Name: 'Taro Yamada', Email: 'taro@example.com' },
        cases: [{ id: '500000000000001AAA', caseNumber: '00001001', subject: 'Refund', status: 'New' }]
    });
    markRead.mockResolvedValue({ accepted: true });
    subscribe.mockResolvedValue({ id: 'sub-1', channel: CHANNEL });
});

afterEach(() => {
    while (document.body.firstChild) document.body.removeChild(document.body.firstChild);
    jest.clearAllMocks();
});

describe('c-line-chat-console', () => {
    it('renders every message type with LINE-like bubbles', async () => {
        const element = await mount();
        expect(getTranscript).toHaveBeenCalledWith({ sessionId: SESSION_ID });

        const rows = $$(element, 'li[data-id]');
        expect(rows.map((r) => r.dataset.id)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8']);
        const row = (id) => $(element, `li[data-id="${id}"]`);

        expect(row('m1').className).toContain('row-left');
        expect(row('m1').querySelector('.bubble-in .text').textContent).toBe('I was charged twice');

        expect(row('m2').className).toContain('row-right');
        expect(row('m2').querySelector('.bubble-bot .bot-mark').textContent).toBe('Bot');

        const sticker = row('m3').querySelector('img.sticker');
        expect(sticker.src).toContain('/sticker/1988/');
        expect(row('m3').className).toContain('row-right');
        expect(row('m3').querySelector('.pending')).not.toBeNull();

        expect(row('m4').querySelector('img.image').getAttribute('src')).toBe(
            '/sfc/servlet.shepherd/document/download/069000000000001AAA'
        );
        const location = row('m5').querySelector('a.location');
        expect(location.textContent).toContain('Tokyo Tower');
        expect(location.href).toContain('35.6586,139.7454');
        expect(row('m6').querySelector('a.file').textContent).toContain('receipt.pdf');

        expect(row('m7').querySelector('.unsent')).not.toBeNull();
        expect(row('m7').querySelector('.text')).toBeNull();
        expect(row('m8').querySelector('.event').textContent).toBe('Added the account as a friend');

        expect($(element, '.friend-name').textContent).toBe('Taro Yamada');
        expect($(element, '.cases li').textContent).toContain('Refund');
        expect(markRead).toHaveBeenCalledWith({ sessionId: SESSION_ID });
    });

    it('subscribes to message change events and refreshes on events of its session only', async () => {
        const element = await mount();
        expect(subscribe).toHaveBeenCalledWith(CHANNEL, -1, expect.any(Function));
        const onEvent = subscribe.mock.calls[0][2];
        expect(getTranscript).toHaveBeenCalledTimes(1);

        onEvent({ data: { payload: { ChangeEventHeader: { changeType: 'CREATE', recordIds: ['x1'] }, Chat_Session__c: 'a01OTHER' } } });
        await flush();
        expect(getTranscript).toHaveBeenCalledTimes(1);

        getTranscript.mockResolvedValue([...TRANSCRIPT, msg('m9', { text: 'Are you there?' })]);
        onEvent({
            data: {
                payload: {
                    ChangeEventHeader: { changeType: 'CREATE', recordIds: ['m9'] },
                    Chat_Session__c: SESSION_ID,
                    Direction__c: 'Inbound'
                }
            }
        });
        for (let i = 0; i < 3; i++) await flush();
        expect(getTranscript).toHaveBeenCalledTimes(2);
        expect($(element, 'li[data-id="m9"] .text').textContent).toBe('Are you there?');
        expect(markRead).toHaveBeenCalledTimes(2);

        // An update (e.g. delivery status) carries only record ids.
        onEvent({ data: { payload: { ChangeEventHeader: { changeType: 'UPDATE', recordIds: ['m3'] } } } });
        await flush();
        expect(getTranscript).toHaveBeenCalledTimes(3);

        document.body.removeChild(element);
        expect(unsubscribe).toHaveBeenCalledWith({ id: 'sub-1', channel: CHANNEL });
    });

    it('inserts a Knowledge article into the draft and keeps the draft in localStorage', async () => {
        searchKnowledge.mockResolvedValue([
            { id: 'ka1', title: 'Refund policy', summary: 'Refunds take 3 business days.' }
        ]);
        const element = await mount();
        const term = $(element, 'lightning-input.search-term');
        term.value = 'refund';
        term.dispatchEvent(new CustomEvent('change'));
        $(element, 'lightning-button.search').click();
        await flush();
        expect(searchKnowledge).toHaveBeenCalledWith({ term: 'refund', language: 'ja' });

        $(element, 'lightning-button-icon.insert').click();
        await flush();
        const expected = 'Refund policy\nRefunds take 3 business days.';
        expect($(element, 'lightning-textarea.draft').value).toBe(expected);
        expect(window.localStorage.getItem(DRAFT_PREFIX + SESSION_ID)).toBe(expected);
    });

    it('restores the draft after a reload', async () => {
        window.localStorage.setItem(DRAFT_PREFIX + SESSION_ID, 'half-written reply');
        const element = await mount();
        expect($(element, 'lightning-textarea.draft').value).toBe('half-written reply');
    });

    it('sends the draft as a text message and clears it', async () => {
        sendMessage.mockResolvedValue(msg('m10', { direction: 'Operator', text: 'We refunded you.', deliveryStatus: 'Pending' }));
        const element = await mount();
        const draft = $(element, 'lightning-textarea.draft');
        draft.value = 'We refunded you.';
        draft.dispatchEvent(new CustomEvent('change'));
        await flush();
        $(element, 'lightning-button.send').click();
        for (let i = 0; i < 3; i++) await flush();

        expect(sendMessage).toHaveBeenCalledWith({
            sessionId: SESSION_ID,
            messageType: 'text',
            text: 'We refunded you.',
            stickerPackageId: null,
            stickerId: null,
            contentVersionId: null
        });
        expect($(element, 'li[data-id="m10"] .text').textContent).toBe('We refunded you.');
        expect(window.localStorage.getItem(DRAFT_PREFIX + SESSION_ID)).toBeNull();
        expect($(element, 'lightning-textarea.draft').value).toBe('');
    });

    it('sends a sticker from the picker and an uploaded image', async () => {
        sendMessage.mockResolvedValue(null);
        const element = await mount();
        $(element, 'lightning-button-icon.sticker-toggle').click();
        await flush();
        const option = $(element, 'button.sticker-option');
        option.click();
        await flush();
        expect(sendMessage).toHaveBeenCalledWith(
            expect.objectContaining({ messageType: 'sticker', stickerPackageId: '446', stickerId: '1988' })
        );

        $(element, 'lightning-file-upload').dispatchEvent(
            new CustomEvent('uploadfinished', { detail: { files: [{ documentId: '069X', contentVersionId: '068X' }] } })
        );
        await flush();
        expect(sendMessage).toHaveBeenLastCalledWith(
            expect.objectContaining({ sessionId: SESSION_ID, messageType: 'image', contentVersionId: '068X' })
        );
    });

    it('closes with a reason and transfers', async () => {
        closeSession.mockResolvedValue({ accepted: true });
        transferSession.mockResolvedValue({ accepted: true });
        const element = await mount();
        const toasts = jest.fn();
        element.addEventListener('lightning__showtoast', toasts);

        const reason = $(element, 'lightning-input.close-reason');
        reason.value = 'Resolved';
        reason.dispatchEvent(new CustomEvent('change'));
        $(element, 'lightning-button.close').click();
        await flush();
        expect(closeSession).toHaveBeenCalledWith({ sessionId: SESSION_ID, reason: 'Resolved' });

        $(element, 'lightning-record-picker.transfer-user').dispatchEvent(
            new CustomEvent('change', { detail: { recordId: '005000000000002AAA' } })
        );
        $(element, 'lightning-button.transfer').click();
        await flush();
        expect(transferSession).toHaveBeenCalledWith({ sessionId: SESSION_ID, toUserId: '005000000000002AAA' });

        $(element, 'lightning-button.to-queue').click();
        await flush();
        expect(transferSession).toHaveBeenLastCalledWith({ sessionId: SESSION_ID, toUserId: null });
        expect(toasts).toHaveBeenCalledTimes(3);
    });

    it('shows an error toast when the relay rejects a close', async () => {
        closeSession.mockRejectedValue({ body: { message: 'HTTP 401' } });
        const element = await mount();
        const toasts = jest.fn();
        element.addEventListener('lightning__showtoast', toasts);
        $(element, 'lightning-button.close').click();
        await flush();
        expect(toasts.mock.calls[0][0].detail).toMatchObject({ variant: 'error', message: 'HTTP 401' });
    });

    it('renders nothing but the card for a Case without a LINE session', async () => {
        getSession.mockResolvedValue(null);
        const element = await mount('500000000000001AAA');
        expect(getSession).toHaveBeenCalledWith({ recordId: '500000000000001AAA' });
        expect($(element, '.transcript')).toBeNull();
        expect(subscribe).not.toHaveBeenCalled();
    });
});
