import { LightningElement, api } from 'lwc';
import offerCall from '@salesforce/apex/LineVoiceController.offerCall';
import guideToLine from '@salesforce/apex/LineVoiceController.guideToLine';
import guideResult from '@salesforce/apex/LineVoiceController.guideResult';
import calls from '@salesforce/apex/LineVoiceController.calls';
import TITLE from '@salesforce/label/c.LINE_Voice_Title';
import OFFER_CALL from '@salesforce/label/c.LINE_Voice_Offer_Call';
import OFFER_SENT from '@salesforce/label/c.LINE_Voice_Offer_Sent';
import GUIDE_TO_LINE from '@salesforce/label/c.LINE_Voice_Guide_To_LINE';
import GUIDE_SENDING from '@salesforce/label/c.LINE_Voice_Guide_Sending';
import GUIDE_PENDING from '@salesforce/label/c.LINE_Voice_Guide_Pending';
import RESULT_LINE_SENT from '@salesforce/label/c.LINE_Voice_Result_LINE_Sent';
import RESULT_LINE_FAILED from '@salesforce/label/c.LINE_Voice_Result_LINE_Failed';
import RESULT_PNP_SENT from '@salesforce/label/c.LINE_Voice_Result_PNP_Sent';
import RESULT_PNP_DELIVERED from '@salesforce/label/c.LINE_Voice_Result_PNP_Delivered';
import RESULT_PNP_UNDELIVERED from '@salesforce/label/c.LINE_Voice_Result_PNP_Undelivered';
import RESULT_PNP_UNAVAILABLE from '@salesforce/label/c.LINE_Voice_Result_PNP_Unavailable';
import RESULT_NO_MATCH from '@salesforce/label/c.LINE_Voice_Result_No_Match';
import RESULT_WITHHELD from '@salesforce/label/c.LINE_Voice_Result_Withheld';
import CALLS from '@salesforce/label/c.LINE_Voice_Calls';
import NO_CALLS from '@salesforce/label/c.LINE_Voice_No_Calls';

export const POLL_MS = 2000;
export const POLL_TRIES = 15;

// Task.LINE_Guide_Result__c value -> what the operator reads.
export const RESULTS = {
    'LINE Sent': RESULT_LINE_SENT,
    'LINE Failed': RESULT_LINE_FAILED,
    'PNP Sent': RESULT_PNP_SENT,
    'PNP Delivered': RESULT_PNP_DELIVERED,
    'PNP Undelivered': RESULT_PNP_UNDELIVERED,
    'PNP Unavailable': RESULT_PNP_UNAVAILABLE,
    'No Match': RESULT_NO_MATCH,
    Withheld: RESULT_WITHHELD
};

function reduceError(error) {
    return (error && error.body && error.body.message) || (error && error.message) || 'Unknown error';
}

export function duration(seconds) {
    if (seconds === null || seconds === undefined) return '';
    const s = Number(seconds);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Record page component (LINE chat session, Case, call Task): 「通話を提案」 on an open chat sends
 * the `call.offer` callout; 「LINEで案内」 on a Case or a call sends `call.line_guide` and shows the
 * result the relay records (a Task); the calls recorded on the record are listed with their
 * status and duration.
 */
export default class LineVoiceActions extends LightningElement {
    @api recordId;
    @api objectApiName;
    labels = { title: TITLE, offerCall: OFFER_CALL, guideToLine: GUIDE_TO_LINE, calls: CALLS, noCalls: NO_CALLS };
    busy = false;
    message;
    error;
    callList = [];
    timer;

    connectedCallback() {
        if (this.showCalls) this.loadCalls();
    }

    disconnectedCallback() {
        this.stopPolling();
    }

    get canOffer() {
        return this.objectApiName === 'LINE_Chat_Session__c';
    }

    get canGuide() {
        return this.objectApiName === 'Case' || this.objectApiName === 'Task';
    }

    get showCalls() {
        return this.objectApiName === 'LINE_Chat_Session__c' || this.objectApiName === 'Case';
    }

    get hasCalls() {
        return this.callList.length > 0;
    }

    get callRows() {
        return this.callList.map((c) => ({
            id: c.id,
            text: [c.flow, c.callType, c.status, duration(c.durationSeconds), c.result && RESULTS[c.result]]
                .filter((x) => x)
                .join(' · ')
        }));
    }

    async loadCalls() {
        try {
            this.callList = (await calls({ recordId: this.recordId })) || [];
        } catch (e) {
            this.error = reduceError(e);
        }
    }

    async offer() {
        this.busy = true;
        this.error = undefined;
        this.message = undefined;
        try {
            await offerCall({ sessionId: this.recordId });
            this.message = OFFER_SENT;
        } catch (e) {
            this.error = reduceError(e);
        } finally {
            this.busy = false;
        }
    }

    async guide() {
        this.busy = true;
        this.error = undefined;
        this.message = GUIDE_SENDING;
        try {
            const sent = await guideToLine({ recordId: this.recordId });
            this.poll(sent.resultKey, POLL_TRIES);
        } catch (e) {
            this.message = undefined;
            this.error = reduceError(e);
            this.busy = false;
        }
    }

    poll(resultKey, triesLeft) {
        this.stopPolling();
        // eslint-disable-next-line @lwc/lwc/no-async-operation
        this.timer = setTimeout(async () => {
            try {
                const result = await guideResult({ resultKey });
                if (result) {
                    this.message = RESULTS[result] || result;
                    this.busy = false;
                    if (this.showCalls) this.loadCalls();
                } else if (triesLeft > 1) {
                    this.poll(resultKey, triesLeft - 1);
                } else {
                    this.message = GUIDE_PENDING;
                    this.busy = false;
                }
            } catch (e) {
                this.error = reduceError(e);
                this.busy = false;
            }
        }, POLL_MS);
    }

    stopPolling() {
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
    }
}
