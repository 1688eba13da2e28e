import { LightningElement, api, wire } from 'lwc';
import { refreshApex } from '@salesforce/apex';
import { subscribe, unsubscribe, onError } from 'lightning/empApi';
import { ShowToastEvent } from 'lightning/platformShowToastEvent';
import raiseFlag from '@salesforce/apex/LineChatController.raiseFlag';
import holdSession from '@salesforce/apex/LineChatController.holdSession';
import resumeSession from '@salesforce/apex/LineChatController.resumeSession';
import holdLabel from '@salesforce/label/c.LINE_Console_Hold';
import resumeLabel from '@salesforce/label/c.LINE_Console_Resume';
import holdMemoLabel from '@salesforce/label/c.LINE_Console_Hold_Memo';
import heldLabel from '@salesforce/label/c.LINE_Console_Held';
import resumedLabel from '@salesforce/label/c.LINE_Console_Resumed';
import surveyScoreLabel from '@salesforce/label/c.LINE_Console_Survey_Score';
import internalLabel from '@salesforce/label/c.LINE_Console_Internal';
import raiseFlagLabel from '@salesforce/label/c.LINE_Console_Raise_Flag';
import flagRaisedLabel from '@salesforce/label/c.LINE_Console_Flag_Raised';
import actionFailedLabel from '@salesforce/label/c.LINE_Supervisor_Error';
import getSession from '@salesforce/apex/LineChatController.getSession';
import getTranscript from '@salesforce/apex/LineChatController.getTranscript';
import sendMessage from '@salesforce/apex/LineChatController.sendMessage';
import closeSession from '@salesforce/apex/LineChatController.closeSession';
import transferSession from '@salesforce/apex/LineChatController.transferSession';
import markRead from '@salesforce/apex/LineChatController.markRead';
import getCustomer from '@salesforce/apex/LineChatController.getCustomer';
import searchKnowledge from '@salesforce/apex/LineChatController.searchKnowledge';
import requestIdentityDocument from '@salesforce/apex/LineIdentityImageController.requestIdentityDocument';
import markIdentityImage from '@salesforce/apex/LineIdentityImageController.markIdentityImage';
import deleteIdentityImageNow from '@salesforce/apex/LineIdentityImageController.deleteIdentityImageNow';
import identityRequest from '@salesforce/label/c.LINE_Identity_Request';
import identityMark from '@salesforce/label/c.LINE_Identity_Mark';
import identityDeleteNow from '@salesforce/label/c.LINE_Identity_Delete_Now';
import identityBadge from '@salesforce/label/c.LINE_Identity_Badge';
import identityDone from '@salesforce/label/c.LINE_Identity_Done';
import identityFailed from '@salesforce/label/c.LINE_Identity_Failed';

import consoleTitle from '@salesforce/label/c.LINE_Console_Title';
import botLabel from '@salesforce/label/c.LINE_Bot';
import messageUnsent from '@salesforce/label/c.LINE_Message_Unsent';
import stickerLabel from '@salesforce/label/c.LINE_Sticker';
import imageLabel from '@salesforce/label/c.LINE_Image';
import sendingLabel from '@salesforce/label/c.LINE_Sending';
import notDelivered from '@salesforce/label/c.LINE_Not_Delivered';
import messageLabel from '@salesforce/label/c.LINE_Message';
import draftPlaceholder from '@salesforce/label/c.LINE_Draft_Placeholder';
import stickersLabel from '@salesforce/label/c.LINE_Stickers';
import sendLabel from '@salesforce/label/c.LINE_Send';
import closeReasonLabel from '@salesforce/label/c.LINE_Close_Reason';
import closeChatLabel from '@salesforce/label/c.LINE_Close_Chat';
import transferToLabel from '@salesforce/label/c.LINE_Transfer_To';
import transferLabel from '@salesforce/label/c.LINE_Transfer';
import backToQueueLabel from '@salesforce/label/c.LINE_Back_To_Queue';
import customerLabel from '@salesforce/label/c.LINE_Customer';
import knowledgeLabel from '@salesforce/label/c.LINE_Knowledge';
import searchArticlesLabel from '@salesforce/label/c.LINE_Search_Articles';
import searchLabel from '@salesforce/label/c.LINE_Search';
import insertArticleLabel from '@salesforce/label/c.LINE_Insert_Article';
import eventFollow from '@salesforce/label/c.LINE_Event_Follow';
import eventUnfollow from '@salesforce/label/c.LINE_Event_Unfollow';
import eventJoin from '@salesforce/label/c.LINE_Event_Join';
import eventLeave from '@salesforce/label/c.LINE_Event_Leave';
import eventMemberJoined from '@salesforce/label/c.LINE_Event_Member_Joined';
import eventMemberLeft from '@salesforce/label/c.LINE_Event_Member_Left';
import eventPostback from '@salesforce/label/c.LINE_Event_Postback';
import eventAccountLink from '@salesforce/label/c.LINE_Event_Account_Link';
import eventBeacon from '@salesforce/label/c.LINE_Event_Beacon';
import eventVideoPlayComplete from '@salesforce/label/c.LINE_Event_Video_Play_Complete';
import eventMembership from '@salesforce/label/c.LINE_Event_Membership';
import eventOther from '@salesforce/label/c.LINE_Event_Other';
import toastNotSent from '@salesforce/label/c.LINE_Toast_Not_Sent';
import toastSearchFailed from '@salesforce/label/c.LINE_Toast_Search_Failed';
import toastClosed from '@salesforce/label/c.LINE_Toast_Closed';
import toastClosedDetail from '@salesforce/label/c.LINE_Toast_Closed_Detail';
import toastCloseFailed from '@salesforce/label/c.LINE_Toast_Close_Failed';
import toastTransferred from '@salesforce/label/c.LINE_Toast_Transferred';
import toastTransferredUser from '@salesforce/label/c.LINE_Toast_Transferred_User';
import toastTransferredQueue from '@salesforce/label/c.LINE_Toast_Transferred_Queue';
import toastTransferFailed from '@salesforce/label/c.LINE_Toast_Transfer_Failed';
import liveUpdatesInterrupted from '@salesforce/label/c.LINE_Live_Updates_Interrupted';
import unknownError from '@salesforce/label/c.LINE_Unknown_Error';
import sessionStatusBot from '@salesforce/label/c.LINE_Session_Status_Bot';
import sessionStatusQueued from '@salesforce/label/c.LINE_Session_Status_Queued';
import sessionStatusOperator from '@salesforce/label/c.LINE_Session_Status_Operator';
import sessionStatusClosed from '@salesforce/label/c.LINE_Session_Status_Closed';
import friendStatusFollowing from '@salesforce/label/c.LINE_Friend_Status_Following';
import friendStatusUnfollowed from '@salesforce/label/c.LINE_Friend_Status_Unfollowed';
import friendStatusUnknown from '@salesforce/label/c.LINE_Friend_Status_Unknown';
import verifiedBySupportId from '@salesforce/label/c.LINE_Verified_By_Support_Id';
import verifiedByAccountLink from '@salesforce/label/c.LINE_Verified_By_Account_Link';

/** Platform event published by the message and session triggers (LineChatChangePublisher). */
export const CHANNEL = '/event/LINE_Chat_Change__e';
export const SESSION_OBJECT = 'LINE_Chat_Session__c';
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
    follow: eventFollow,
    unfollow: eventUnfollow,
    join: eventJoin,
    leave: eventLeave,
    memberJoined: eventMemberJoined,
    memberLeft: eventMemberLeft,
    postback: eventPostback,
    accountLink: eventAccountLink,
    beacon: eventBeacon,
    videoPlayComplete: eventVideoPlayComplete,
    membership: eventMembership,
    event: eventOther
};

const SESSION_STATUS_LABELS = {
    Bot: sessionStatusBot,
    Queued: sessionStatusQueued,
    Operator: sessionStatusOperator,
    Closed: sessionStatusClosed
};

const FRIEND_STATUS_LABELS = {
    Following: friendStatusFollowing,
    Unfollowed: friendStatusUnfollowed,
    Unknown: friendStatusUnknown
};

const VERIFIED_BY_LABELS = {
    Support_ID: verifiedBySupportId,
    Account_Link: verifiedByAccountLink
};

/** Replaces {0}, {1}, ... in a Custom Label. */
export function formatLabel(label, ...values) {
    return label.replace(/\{(\d+)\}/g, (match, index) => (index < values.length ? String(values[index]) : match));
}

function reduceError(error) {
    if (!error) return unknownError;
    if (error.body && error.body.message) return error.body.message;
    if (Array.isArray(error.body)) return error.body.map((e) => e.message).join(', ');
    return error.message || String(error);
}

function storage() {
    try {
        return window.localStorage;
    } catch {
        return null;
    }
}

export default class LineChatConsole extends LightningElement {
    @api recordId;

    session;
    sessionId;
    messages = [];
    customer;
    wiredCustomerResult;
    draft = '';
    searchTerm = '';
    articles = [];
    closeReason = '';
    holdMemo = '';
    transferUserId;
    showStickers = false;
    sending = false;
    error;
    subscription;
    stickers = STICKERS;

    labels = {
        consoleTitle,
        bot: botLabel,
        internal: internalLabel,
        raiseFlag: raiseFlagLabel,
        hold: holdLabel,
        resume: resumeLabel,
        holdMemo: holdMemoLabel,
        messageUnsent,
        sticker: stickerLabel,
        image: imageLabel,
        sending: sendingLabel,
        notDelivered,
        message: messageLabel,
        draftPlaceholder,
        stickers: stickersLabel,
        send: sendLabel,
        closeReason: closeReasonLabel,
        closeChat: closeChatLabel,
        transferTo: transferToLabel,
        transfer: transferLabel,
        backToQueue: backToQueueLabel,
        customer: customerLabel,
        knowledge: knowledgeLabel,
        searchArticles: searchArticlesLabel,
        search: searchLabel,
        insertArticle: insertArticleLabel,
        identityRequest,
        identityMark,
        identityDeleteNow,
        identityBadge
    };

    connectedCallback() {
        onError((err) => {
            this.error = formatLabel(liveUpdatesInterrupted, JSON.stringify(err));
        });
        this.load();
    }

    disconnectedCallback() {
        if (this.subscription) {
            unsubscribe(this.subscription);
            this.subscription = null;
        }
    }

    /** Customer panel: cacheable, refreshed when the session changes (e.g. an identity link). */
    @wire(getCustomer, { sessionId: '$sessionId' })
    wiredCustomer(result) {
        this.wiredCustomerResult = result;
        if (result.data) {
            this.customer = result.data;
        } else if (result.error) {
            this.customer = undefined;
            this.error = reduceError(result.error);
        }
    }

    async load() {
        try {
            this.session = await getSession({ recordId: this.recordId });
            if (!this.session) return;
            this.sessionId = this.session.id;
            this.draft = this.readDraft();
            await this.refreshTranscript();
            await this.subscribeToChanges();
            this.markAsRead();
        } catch (error) {
            this.error = reduceError(error);
        }
    }

    async refreshTranscript() {
        this.messages = (await getTranscript({ sessionId: this.session.id })) || [];
    }

    async reloadSession() {
        const session = await getSession({ recordId: this.session.id });
        if (session) this.session = session;
        if (this.wiredCustomerResult) await refreshApex(this.wiredCustomerResult);
    }

    async subscribeToChanges() {
        this.subscription = await subscribe(CHANNEL, -1, (event) => this.handleChangeEvent(event));
    }

    /** One event per changed message or session; the payload carries the session id, never content. */
    handleChangeEvent(event) {
        const payload = event && event.data && event.data.payload;
        if (!payload || !this.session || payload.Session_Id__c !== this.session.id) return;
        const work =
            payload.Object__c === SESSION_OBJECT
                ? this.reloadSession()
                : this.refreshTranscript().then(() => {
                      if (payload.Change_Type__c === 'CREATE' && payload.Direction__c === 'Inbound') this.markAsRead();
                  });
        work.catch((error) => {
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
        return !!this.session && this.session.status === 'Closed';
    }

    get sessionStatusLabel() {
        return (this.session && SESSION_STATUS_LABELS[this.session.status]) || (this.session && this.session.status);
    }

    get friendStatusLabel() {
        const status = this.customer && this.customer.friend && this.customer.friend.Status__c;
        return FRIEND_STATUS_LABELS[status] || status;
    }

    /** "Verified by support ID" (or account link) when the customer proved who they are. */
    get verifiedLabel() {
        const friend = this.customer && this.customer.friend;
        return (friend && friend.Verified__c && VERIFIED_BY_LABELS[friend.Verified_By__c]) || null;
    }

    get sendDisabled() {
        return this.sending || this.isClosed || !this.draft || !this.draft.trim();
    }

    get bubbles() {
        return this.messages.map((m) => {
            // A supervisor's whisper (Internal) is on the operator's side, marked: never sent to LINE.
            const internal = m.direction === 'Internal';
            const outbound = m.direction === 'Operator' || m.direction === 'Bot' || internal;
            const system = m.direction === 'System';
            const type = m.type || 'text';
            const isEvent = !!EVENT_LABELS[type];
            let side = 'row-left';
            if (system || isEvent) side = 'row-center';
            else if (outbound) side = 'row-right';
            return {
                ...m,
                rowClass: `row ${side}`,
                bubbleClass: `bubble ${outbound ? 'bubble-out' : 'bubble-in'}${m.direction === 'Bot' ? ' bubble-bot' : ''}${
                    internal ? ' bubble-internal' : ''
                }${m.unsent ? ' bubble-unsent' : ''}`,
                isBot: m.direction === 'Bot',
                isInternal: internal,
                isUnsent: !!m.unsent,
                isText: !m.unsent && type === 'text',
                isSticker: !m.unsent && type === 'sticker',
                isImage: !m.unsent && type === 'image' && !!m.contentDocumentId,
                isDeletedImage: !m.unsent && type === 'image' && !m.contentDocumentId && !!m.text,
                canMarkIdentity: !m.unsent && type === 'image' && m.direction === 'Inbound' && !!m.contentDocumentId,
                isIdentityDocument: !!m.identityDocument,
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
                author: m.direction === 'Bot' ? botLabel : m.operatorName || ''
            };
        });
    }

    get hasArticles() {
        return this.articles.length > 0;
    }

    get cases() {
        return ((this.customer && this.customer.cases) || []).map((c) => ({
            ...c,
            hasScore: c.surveyScore != null,
            scoreText: formatLabel(surveyScoreLabel, c.surveyScore)
        }));
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
            this.toast(toastNotSent, reduceError(error), 'error');
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
            // One at a time: the transcript shows them in upload order.
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
            this.toast(toastSearchFailed, reduceError(error), 'error');
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
            this.toast(toastClosed, toastClosedDetail, 'success');
            this.closeReason = '';
        } catch (error) {
            this.toast(toastCloseFailed, reduceError(error), 'error');
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
            this.toast(toastTransferred, toUserId ? toastTransferredUser : toastTransferredQueue, 'success');
        } catch (error) {
            this.toast(toastTransferFailed, reduceError(error), 'error');
        }
    }

    handleHoldMemoChange(event) {
        this.holdMemo = event.target.value;
    }

    /** Hold: the relay tells the customer; the chat stays this operator's until resumed or timed out. */
    async handleHold() {
        try {
            await holdSession({ sessionId: this.session.id, memo: this.holdMemo || null });
            this.toast(heldLabel, null, 'success');
            this.holdMemo = '';
        } catch (error) {
            this.toast(actionFailedLabel, reduceError(error), 'error');
        }
    }

    async handleResume() {
        try {
            await resumeSession({ sessionId: this.session.id });
            this.toast(resumedLabel, null, 'success');
        } catch (error) {
            this.toast(actionFailedLabel, reduceError(error), 'error');
        }
    }

    /** Raise flag: ask a supervisor for help; the supervisor view shows it until answered. */
    async handleRaiseFlag() {
        try {
            await raiseFlag({ sessionId: this.session.id, note: null });
            this.toast(flagRaisedLabel, null, 'success');
        } catch (error) {
            this.toast(actionFailedLabel, reduceError(error), 'error');
        }
    }

    /** Ask the customer for an ID document: an image they send soon after is an identity document. */
    async handleRequestIdentity() {
        await this.identityAction(() => requestIdentityDocument({ sessionId: this.session.id }));
    }

    async handleMarkIdentity(event) {
        await this.identityAction(() => markIdentityImage({ messageId: event.currentTarget.dataset.id }));
    }

    async handleDeleteIdentity(event) {
        await this.identityAction(() => deleteIdentityImageNow({ messageId: event.currentTarget.dataset.id }));
    }

    async identityAction(call) {
        try {
            await call();
            this.toast(identityDone, '', 'success');
        } catch (error) {
            this.toast(identityFailed, reduceError(error), 'error');
        }
    }

    toast(title, message, variant) {
        this.dispatchEvent(new ShowToastEvent({ title, message, variant }));
    }
}
