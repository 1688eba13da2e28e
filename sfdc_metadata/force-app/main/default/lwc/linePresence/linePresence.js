import { LightningElement } from 'lwc';
import setPresence from '@salesforce/apex/LinePresenceController.setPresence';
import badgeLabel from '@salesforce/label/c.LINE_Presence_Badge';
import statusLabel from '@salesforce/label/c.LINE_Presence_Status';
import capacityLabel from '@salesforce/label/c.LINE_Presence_Capacity';
import availableLabel from '@salesforce/label/c.LINE_Presence_Available';
import busyLabel from '@salesforce/label/c.LINE_Presence_Busy';
import awayLabel from '@salesforce/label/c.LINE_Presence_Away';
import offlineLabel from '@salesforce/label/c.LINE_Presence_Offline';
import unknownError from '@salesforce/label/c.LINE_Unknown_Error';

export const HEARTBEAT_MS = 60000;
export const STATUSES = ['Available', 'Busy', 'Away', 'Offline'];
export const STORAGE_KEY = 'linePresence.state';
const STATUS_LABELS = {
    Available: availableLabel,
    Busy: busyLabel,
    Away: awayLabel,
    Offline: offlineLabel
};

function reduceError(error) {
    return (error && error.body && error.body.message) || (error && error.message) || unknownError;
}

/**
 * Utility bar item: the operator's LINE presence (Available / Busy / Away / Offline) and capacity.
 * While Available it repeats the update every 60 s: the relay expires presence that is not
 * refreshed, so a closed browser does not keep receiving chats.
 */
export default class LinePresence extends LightningElement {
    status = 'Offline';
    capacity = 3;
    error;
    saving = false;
    timer;

    labels = { status: statusLabel, capacity: capacityLabel };

    connectedCallback() {
        let saved = null;
        try {
            saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || 'null');
        } catch {
            /* no readable saved state */
        }
        if (saved && STATUSES.includes(saved.status)) {
            this.capacity = saved.capacity;
            // Re-announce a saved online state (the relay may have expired it meanwhile).
            if (saved.status !== 'Offline') this.update(saved.status, saved.capacity);
        }
    }

    disconnectedCallback() {
        this.stopHeartbeat();
    }

    get options() {
        return STATUSES.map((s) => ({ label: STATUS_LABELS[s], value: s }));
    }

    get badge() {
        return badgeLabel.replace('{0}', STATUS_LABELS[this.status]);
    }

    get badgeClass() {
        return `status status-${this.status.toLowerCase()}`;
    }

    handleStatusChange(event) {
        this.update(event.detail.value, this.capacity);
    }

    handleCapacityChange(event) {
        const value = parseInt(event.detail.value, 10);
        if (Number.isNaN(value)) return;
        this.capacity = value;
        if (this.status !== 'Offline') this.update(this.status, value);
    }

    async update(status, capacity) {
        this.saving = true;
        try {
            const result = await setPresence({ status, capacity });
            this.status = result.status;
            this.capacity = result.capacity || capacity;
            this.error = undefined;
            window.localStorage.setItem(STORAGE_KEY, JSON.stringify({ status: this.status, capacity: this.capacity }));
            if (this.status === 'Available') this.startHeartbeat();
            else this.stopHeartbeat();
        } catch (error) {
            this.error = reduceError(error);
        } finally {
            this.saving = false;
        }
    }

    startHeartbeat() {
        this.stopHeartbeat();
        // The relay expires presence that is not refreshed: a timer is the point of this component.
        // eslint-disable-next-line @lwc/lwc/no-async-operation
        this.timer = setInterval(() => {
            setPresence({ status: this.status, capacity: this.capacity }).catch((error) => {
                this.error = reduceError(error);
            });
        }, HEARTBEAT_MS);
    }

    stopHeartbeat() {
        if (this.timer) {
            clearInterval(this.timer);
            this.timer = null;
        }
    }
}
