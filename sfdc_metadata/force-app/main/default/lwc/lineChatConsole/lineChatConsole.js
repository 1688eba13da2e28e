import { LightningElement, api } from 'lwc';
import { subscribe, unsubscribe, onError } from 'lightning/empApi';
import { ShowToastEvent } from 'lightning/platformShowToastEvent';
import getSession from '@salesforce/apex/LineChatController.getSession';
import getTranscript from '@salesforce/apex/LineChatController.getTranscript';
import sendMessage from '@salesforce/apex/LineChatController.sendMessage';
import closeSession from '@salesforce/apex/LineChatController.closeSession';
import transferSession from '@salesforce/apex/LineChatController.transferSession';
import markRead from '@salesforce/apex/LineChatController.markRead';
import getCustomer from '@salesforce/apex/LineChatController.getCustomer';
import searchKnowledge from '@salesforce/apex/LineChatController.searchKnowledge';

export const CHANNEL = '/data/LINE_Chat_Message__ChangeEvent';
export const DRAFT_PREFIX = 'lineChatConsole.draft.';
const STICKER_URL = 'https://stickershop.line-scdn.net/stickershop/v1/sticker/{id}/android/sticker.png';

/** A small fixed set of LINE standard stickers (packages 446, 789, 11537) operators may send. */
export const STICKERS = [
    ['446', '1988'],
    ['446', '1989'],
    ['446', '1990'],
    ['446', '1993'],
    ['446', '2003'],
    ['789', '10855'],
    ['789', '10857'],
    ['789', '10863'],
    ['11537', '52002734'],
    ['11537', '52002735'],
    ['11537', '52002739'],
    ['11537', '52002745']
].map(([packageId, stickerId]) => ({
    key: `${packageId}-${stickerId}`,
    packageId,
    stickerId,
    url: STICKER_URL.replace('{id}', stickerId)
}));

const EVENT_LABELS = {
    follow: 'Added the account as a friend',
    unfollow: 'Blocked the account',
    join: 'Joined',
    leave: 'Left',
    memberJoined: 'Member joined',
    memberLeft: 'Member left',
    postback: 'Tapped a button',
    accountLink: 'Linked an account',
    beacon: 'Beacon',
    videoPlayComplete: 'Watched a video',
    membership: 'Membership event',
    event: 'Event'
};

function reduceError(error) {
    if (!error) return 'Unknown error';
    if (error.body && error.body.message) return error.body.message;
    if (Array.isArray(error.body)) return error.body.map((e) => e.message).join(', ');
    return error.message || String(error);
}

function storage() {
    try {
        return window.localStorage;
    } catch (e) {
        return null;
    }
}

export default class LineChatConsole extends LightningElement {
    @api recordId;

    session;
    messages = [];
    customer;
    draft = '';
    searchTerm = '';
    articles = [];
    closeReason = '';
    transferUserId;
    showStickers = false;
    sending = false;
    error;
    subscription;
    stickers = STICKERS;

    connectedCallback() {
        onError((err) => {
            this.error = 'Live updates interrupted: ' + JSON.stringify(err);
        });
        this.load();
    }

    disconnectedCallback() {
        if (this.subscription) {
            unsubscribe(this.subscription);
            this.subscription = null;
        }
    }

    async load() {
        try {
            this.session = await getSession({ recordId: this.recordId });
            if (!this.session) return;
            this.draft = this.readDraft();
            await this.refreshTranscript();
            await this.subscribeToMessages();
            this.customer = await getCustomer({ sessionId: this.session.id });
            this.markAsRead();
        } catch (error) {
            this.error = reduceError(error);
        }
    }

    async refreshTranscript() {
        this.messages = (await getTranscript({ sessionId: this.session.id })) || [];
    }

    async subscribeToMessages() {
        this.subscription = await subscribe(CHANNEL, -1, (event) => this.handleChangeEvent(event));
    }

    /** CDC: creates carry Chat_Session__c; updates (delivery status, unsend) carry only record ids. */
    handleChangeEvent(event) {
        const payload = event && event.data && event.data.payload;
        if (!payload || !this.session) return;
        const header = payload.ChangeEventHeader || {};
        const known = new Set(this.messages.map((m) => m.id));
        const ours =
            payload.Chat_Session__c === this.session.id || (header.recordIds || []).some((id) => known.has(id));
        if (!ours) return;
        this.refreshTranscript()
            .then(() => {
                if (header.changeType === 'CREATE' && payload.Direction__c === 'Inbound') this.markAsRead();
            })
            .catch((error) => {
                this.error = reduceError(error);
            });
    }

    markAsRead() {
        if (!this.session || this.session.status !== 'Operator') return;
        markRead({ sessionId: this.session.id }).catch(() => {
            /* read receipts are best effort */
        });
    }

    // ---------------------------------------------------------------- view model
    get hasSession() {
        return !!this.session;
    }

    get isClosed() {
        return this.session && this.session.status === 'Closed';
    }

    get sendDisabled() {
        return this.sending || this.isClosed || !this.draft || !this.draft.trim();
    }

    get bubbles() {
        return this.messages.map((m) => {
            const outbound = m.direction === 'Operator' || m.direction === 'Bot';
            const system = m.direction === 'System';
            const type = m.type || 'text';
            const isEvent = !!EVENT_LABELS[type];
            return {
                ...m,
                rowClass: `row ${system || isEvent ? 'row-center' : outbound ? 'row-right' : 'row-left'}`,
                bubbleClass: `bubble ${outbound ? 'bubble-out' : 'bubble-in'}${m.direction === 'Bot' ? ' bubble-bot' : ''}${
                    m.unsent ? ' bubble-unsent' : ''
                }`,
                isBot: m.direction === 'Bot',
                isUnsent: !!m.unsent,
                isText: !m.unsent && type === 'text',
                isSticker: !m.unsent && type === 'sticker',
                isImage: !m.unsent && type === 'image',
                isVideo: !m.unsent && (type === 'video' || type === 'audio'),
                isLocation: !m.unsent && type === 'location',
                isFile: !m.unsent && type === 'file',
                isEvent: isEvent,
                eventLabel: EVENT_LABELS[type],
                imageUrl:
                    m.previewUrl ||
                    (m.contentDocumentId ? `/sfc/servlet.shepherd/document/download/${m.contentDocumentId}` : null),
                fileUrl: m.contentDocumentId ? `/lightning/r/ContentDocument/${m.contentDocumentId}/view` : null,
                mapUrl:
                    m.latitude != null && m.longitude != null
                        ? `https://www.google.com/maps/search/?api=1&query=${m.latitude},${m.longitude}`
                        : null,
                isPending: m.deliveryStatus === 'Pending',
                isFailed: m.deliveryStatus === 'Failed',
                author: m.direction === 'Bot' ? 'Bot' : m.operatorName || ''
            };
        });
    }

    get hasArticles() {
        return this.articles.length > 0;
    }

    get cases() {
        return (this.customer && this.customer.cases) || [];
    }

    renderedCallback() {
        const list = this.template.querySelector('.transcript');
        if (list && this._renderedCount !== this.messages.length) {
            this._renderedCount = this.messages.length;
            list.scrollTop = list.scrollHeight;
        }
    }

    // ---------------------------------------------------------------- draft (localStorage)
    get draftKey() {
        return DRAFT_PREFIX + (this.session ? this.session.id : this.recordId);
    }

    readDraft() {
        const store = storage();
        return (store && store.getItem(this.draftKey)) || '';
    }

    saveDraft(value) {
        this.draft = value;
        const store = storage();
        if (!store) return;
        if (value) store.setItem(this.draftKey, value);
        else store.removeItem(this.draftKey);
    }

    handleDraftChange(event) {
        this.saveDraft(event.target.value);
    }

    // ---------------------------------------------------------------- send
    async send(messageType, fields) {
        this.sending = true;
        try {
            const saved = await sendMessage({
                sessionId: this.session.id,
                messageType,
                text: null,
                stickerPackageId: null,
                stickerId: null,
                contentVersionId: null,
                ...fields
            });
            if (saved && !this.messages.some((m) => m.id === saved.id)) {
                this.messages = [...this.messages, saved];
            }
            return true;
        } catch (error) {
            this.toast('Message not sent', reduceError(error), 'error');
            return false;
        } finally {
            this.sending = false;
        }
    }

    async handleSend() {
        if (this.sendDisabled) return;
        if (await this.send('text', { text: this.draft })) this.saveDraft('');
    }

    handleKeyDown(event) {
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            this.handleSend();
        }
    }

    toggleStickers() {
        this.showStickers = !this.showStickers;
    }

    async handleStickerClick(event) {
        const { packageId, stickerId } = event.currentTarget.dataset;
        this.showStickers = false;
        await this.send('sticker', { stickerPackageId: packageId, stickerId });
    }

    async handleUploadFinished(event) {
        const files = (event.detail && event.detail.files) || [];
        for (const file of files) {
            // eslint-disable-next-line no-await-in-loop
            await this.send('image', { contentVersionId: file.contentVersionId });
        }
    }

    // ---------------------------------------------------------------- knowledge
    handleSearchTermChange(event) {
        this.searchTerm = event.target.value;
    }

    async handleSearch() {
        try {
            this.articles =
                (await searchKnowledge({ term: this.searchTerm, language: this.session && this.session.language })) ||
                [];
        } catch (error) {
            this.articles = [];
            this.toast('Knowledge search failed', reduceError(error), 'error');
        }
    }

    handleInsertArticle(event) {
        const article = this.articles.find((a) => a.id === event.currentTarget.dataset.id);
        if (!article) return;
        const snippet = [article.title, article.summary].filter(Boolean).join('\n');
        this.saveDraft(this.draft ? `${this.draft}\n${snippet}` : snippet);
    }

    // ---------------------------------------------------------------- close / transfer
    handleCloseReasonChange(event) {
        this.closeReason = event.target.value;
    }

    async handleClose() {
        try {
            await closeSession({ sessionId: this.session.id, reason: this.closeReason });
            this.toast('Chat closed', 'The customer will be asked for feedback.', 'success');
            this.closeReason = '';
        } catch (error) {
            this.toast('Could not close the chat', reduceError(error), 'error');
        }
    }

    handleTransferUserChange(event) {
        this.transferUserId = event.detail ? event.detail.recordId : null;
    }

    async handleTransfer() {
        await this.transfer(this.transferUserId || null);
    }

    async handleTransferToQueue() {
        await this.transfer(null);
    }

    async transfer(toUserId) {
        try {
            await transferSession({ sessionId: this.session.id, toUserId });
            this.toast('Chat transferred', toUserId ? 'Sent to the selected operator.' : 'Returned to the queue.', 'success');
        } catch (error) {
            this.toast('Could not transfer the chat', reduceError(error), 'error');
        }
    }

    toast(title, message, variant) {
        this.dispatchEvent(new ShowToastEvent({ title, message, variant }));
    }
}
