import { LightningElement } from 'lwc';
import { ShowToastEvent } from 'lightning/platformShowToastEvent';
import getOverview from '@salesforce/apex/LineSupervisorController.getOverview';
import whisper from '@salesforce/apex/LineSupervisorController.whisper';
import answerFlag from '@salesforce/apex/LineSupervisorController.answerFlag';
import openChat from '@salesforce/apex/LineSupervisorController.openChat';
import titleLabel from '@salesforce/label/c.LINE_Supervisor_Title';
import queuesLabel from '@salesforce/label/c.LINE_Supervisor_Queues';
import channelLabel from '@salesforce/label/c.LINE_Supervisor_Channel';
import waitingLabel from '@salesforce/label/c.LINE_Supervisor_Waiting';
import longestWaitLabel from '@salesforce/label/c.LINE_Supervisor_Longest_Wait';
import operatorsLabel from '@salesforce/label/c.LINE_Supervisor_Operators';
import operatorLabel from '@salesforce/label/c.LINE_Supervisor_Operator';
import loadLabel from '@salesforce/label/c.LINE_Supervisor_Load';
import liveChatsLabel from '@salesforce/label/c.LINE_Supervisor_Live_Chats';
import customerLabel from '@salesforce/label/c.LINE_Supervisor_Customer';
import statusLabel from '@salesforce/label/c.LINE_Supervisor_Status';
import waitLabel from '@salesforce/label/c.LINE_Supervisor_Wait';
import handleTimeLabel from '@salesforce/label/c.LINE_Supervisor_Handle_Time';
import helpLabel from '@salesforce/label/c.LINE_Supervisor_Help';
import openLabel from '@salesforce/label/c.LINE_Supervisor_Open';
import answerLabel from '@salesforce/label/c.LINE_Supervisor_Answer_Flag';
import whisperPlaceholder from '@salesforce/label/c.LINE_Supervisor_Whisper_Placeholder';
import whisperSendLabel from '@salesforce/label/c.LINE_Supervisor_Whisper_Send';
import whisperSentLabel from '@salesforce/label/c.LINE_Supervisor_Whisper_Sent';
import refreshLabel from '@salesforce/label/c.LINE_Supervisor_Refresh';
import emptyLabel from '@salesforce/label/c.LINE_Supervisor_Empty';
import minutesLabel from '@salesforce/label/c.LINE_Supervisor_Minutes';
import transcriptLabel from '@salesforce/label/c.LINE_Supervisor_Transcript';
import errorLabel from '@salesforce/label/c.LINE_Supervisor_Error';
import internalLabel from '@salesforce/label/c.LINE_Console_Internal';
import unknownError from '@salesforce/label/c.LINE_Unknown_Error';
import presenceLabel from '@salesforce/label/c.LINE_Supervisor_Presence';
import capacityLabel from '@salesforce/label/c.LINE_Supervisor_Capacity';
import onHoldLabel from '@salesforce/label/c.LINE_Supervisor_On_Hold';
import presenceErrorLabel from '@salesforce/label/c.LINE_Supervisor_Presence_Error';
import availableLabel from '@salesforce/label/c.LINE_Presence_Available';
import busyLabel from '@salesforce/label/c.LINE_Presence_Busy';
import awayLabel from '@salesforce/label/c.LINE_Presence_Away';
import offlineLabel from '@salesforce/label/c.LINE_Presence_Offline';

const PRESENCE_LABELS = { Available: availableLabel, Busy: busyLabel, Away: awayLabel, Offline: offlineLabel };

export const REFRESH_MS = 15000;

function minutes(value) {
    return minutesLabel.replace('{0}', value || 0);
}

function reduceError(error) {
    return (error && error.body && error.body.message) || (error && error.message) || unknownError;
}

/**
 * The supervisor view (docs/supervision.md): queues per channel with the longest wait, each
 * operator's live chats and help requests, every live chat with its wait and handle time. A chat
 * opens read-only with its transcript (internal messages marked); the supervisor can whisper to
 * its operator (an internal message, never sent to LINE) and answer the operator's help request.
 * Refreshes every 15 s; every action is audited by the controller.
 */
export default class LineSupervisorView extends LightningElement {
    overview = { queues: [], operators: [], chats: [] };
    selectedId;
    transcript = [];
    whisperText = '';
    error;
    busy = false;
    timer;

    labels = {
        title: titleLabel,
        queues: queuesLabel,
        channel: channelLabel,
        waiting: waitingLabel,
        longestWait: longestWaitLabel,
        operators: operatorsLabel,
        operator: operatorLabel,
        load: loadLabel,
        liveChats: liveChatsLabel,
        customer: customerLabel,
        status: statusLabel,
        wait: waitLabel,
        handleTime: handleTimeLabel,
        help: helpLabel,
        open: openLabel,
        answer: answerLabel,
        whisperPlaceholder,
        whisperSend: whisperSendLabel,
        refresh: refreshLabel,
        empty: emptyLabel,
        transcript: transcriptLabel,
        presence: presenceLabel,
        capacity: capacityLabel,
        onHold: onHoldLabel
    };

    connectedCallback() {
        this.refresh();
        // Live numbers without a streaming subscription per chat: a timer is the point here.
        // eslint-disable-next-line @lwc/lwc/no-async-operation
        this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    }

    disconnectedCallback() {
        clearInterval(this.timer);
    }

    async refresh() {
        try {
            this.overview = await getOverview();
            this.error = undefined;
        } catch (error) {
            this.error = reduceError(error);
        }
    }

    get queues() {
        return this.overview.queues.map((q) => ({ ...q, longestWait: minutes(q.longestWaitMinutes) }));
    }

    get operators() {
        return this.overview.operators.map((op) => ({
            ...op,
            presenceText: PRESENCE_LABELS[op.presence] || '',
            presenceClass: `presence presence-${(op.presence || 'unknown').toLowerCase()}`
        }));
    }

    get presenceError() {
        return this.overview.presenceError ? presenceErrorLabel.replace('{0}', this.overview.presenceError) : null;
    }

    get chats() {
        return this.overview.chats.map((c) => ({
            ...c,
            wait: minutes(c.waitMinutes),
            handleTime: minutes(c.handleMinutes),
            helpRequested: Boolean(c.helpRequestedAt),
            rowClass: c.id === this.selectedId ? 'chat selected' : 'chat'
        }));
    }

    get hasChats() {
        return this.overview.chats.length > 0;
    }

    get messages() {
        return this.transcript.map((m) => ({
            ...m,
            internal: m.direction === 'Internal',
            badge: m.direction === 'Internal' ? internalLabel : m.direction,
            cssClass: m.direction === 'Internal' ? 'message internal' : 'message'
        }));
    }

    get whisperDisabled() {
        return this.busy || !this.whisperText.trim();
    }

    async handleOpen(event) {
        const sessionId = event.target.dataset.id;
        await this.run(async () => {
            this.transcript = await openChat({ sessionId });
            this.selectedId = sessionId;
        });
    }

    async handleAnswer(event) {
        const sessionId = event.target.dataset.id;
        await this.run(async () => {
            await answerFlag({ sessionId });
            await this.refresh();
        });
    }

    handleWhisperChange(event) {
        this.whisperText = event.detail.value || '';
    }

    async handleWhisper() {
        const sessionId = this.selectedId;
        const text = this.whisperText;
        await this.run(async () => {
            await whisper({ sessionId, text });
            this.whisperText = '';
            this.transcript = await openChat({ sessionId });
            this.dispatchEvent(new ShowToastEvent({ title: whisperSentLabel, variant: 'success' }));
        });
    }

    handleRefresh() {
        return this.refresh();
    }

    async run(action) {
        this.busy = true;
        try {
            await action();
        } catch (error) {
            this.dispatchEvent(new ShowToastEvent({ title: errorLabel, message: reduceError(error), variant: 'error' }));
        } finally {
            this.busy = false;
        }
    }
}
