import { LightningElement } from 'lwc';
import { NavigationMixin } from 'lightning/navigation';
import { loadScript } from 'lightning/platformResourceLoader';
import TWILIO_VOICE_SDK from '@salesforce/resourceUrl/LINE_Twilio_Voice_SDK';
import deviceToken from '@salesforce/apex/LineVoiceController.deviceToken';
import TITLE from '@salesforce/label/c.LINE_Voice_Phone_Title';
import START from '@salesforce/label/c.LINE_Voice_Phone_Start';
import STOP from '@salesforce/label/c.LINE_Voice_Phone_Stop';
import STARTING from '@salesforce/label/c.LINE_Voice_Phone_Starting';
import READY from '@salesforce/label/c.LINE_Voice_Phone_Ready';
import RINGING from '@salesforce/label/c.LINE_Voice_Phone_Ringing';
import ACCEPT from '@salesforce/label/c.LINE_Voice_Phone_Accept';
import REJECT from '@salesforce/label/c.LINE_Voice_Phone_Reject';
import IN_CALL from '@salesforce/label/c.LINE_Voice_Phone_In_Call';
import HANG_UP from '@salesforce/label/c.LINE_Voice_Phone_Hang_Up';
import MUTE from '@salesforce/label/c.LINE_Voice_Phone_Mute';
import UNMUTE from '@salesforce/label/c.LINE_Voice_Phone_Unmute';
import OPEN_CASE from '@salesforce/label/c.LINE_Voice_Phone_Open_Case';
import NO_WEBRTC from '@salesforce/label/c.LINE_Voice_Phone_No_WebRTC';
import ENDED from '@salesforce/label/c.LINE_Voice_Phone_Ended';

export const STATES = { OFF: 'off', STARTING: 'starting', READY: 'ready', RINGING: 'ringing', IN_CALL: 'in-call' };
const STATUS_TEXT = { starting: STARTING, ready: READY, ringing: RINGING, 'in-call': IN_CALL };

function reduceError(error) {
    return (error && error.body && error.body.message) || (error && error.message) || 'Unknown error';
}

/**
 * The console phone (utility bar): an operator who has no phone number in their presence takes
 * the calls they offered here. The Twilio Voice SDK (static resource) registers a Device with a
 * token from the relay (Apex deviceToken: identity operator-<user id>, the one the IVR dials) and
 * renews it before it expires. A ringing call shows Answer / Decline and, when the call carries the
 * Case of the chat it was offered in, a link to it. Nothing starts until the operator asks: the
 * browser asks for the microphone then.
 */
export default class LineVoiceDevice extends NavigationMixin(LightningElement) {
    labels = { title: TITLE, start: START, stop: STOP, accept: ACCEPT, reject: REJECT, hangUp: HANG_UP, openCase: OPEN_CASE };
    state = STATES.OFF;
    message;
    error;
    caseId;
    muted = false;
    device;
    call;

    disconnectedCallback() {
        this.stop();
    }

    get isOff() {
        return this.state === STATES.OFF;
    }

    get isRinging() {
        return this.state === STATES.RINGING;
    }

    get isInCall() {
        return this.state === STATES.IN_CALL;
    }

    get canStop() {
        return this.state === STATES.READY;
    }

    get status() {
        return STATUS_TEXT[this.state];
    }

    get muteLabel() {
        return this.muted ? UNMUTE : MUTE;
    }

    async start() {
        this.state = STATES.STARTING;
        this.error = undefined;
        this.message = undefined;
        try {
            await loadScript(this, TWILIO_VOICE_SDK);
            const Device = window.Twilio && window.Twilio.Device;
            const media = navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
            if (!Device || Device.isSupported === false || !media) {
                this.fail(NO_WEBRTC);
                return;
            }
            const granted = await deviceToken();
            const device = new Device(granted.token, { closeProtection: true, codecPreferences: ['opus', 'pcmu'] });
            device.on('registered', () => {
                if (this.state === STATES.STARTING) this.state = STATES.READY;
            });
            device.on('incoming', (call) => this.ring(call));
            device.on('tokenWillExpire', () => this.renew());
            device.on('error', (e) => {
                this.error = reduceError(e);
            });
            this.device = device;
            await device.register();
        } catch (e) {
            this.fail(reduceError(e));
        }
    }

    fail(why) {
        this.stop();
        this.error = why;
    }

    async renew() {
        try {
            const granted = await deviceToken();
            this.device.updateToken(granted.token);
        } catch (e) {
            this.error = reduceError(e);
        }
    }

    ring(call) {
        if (this.call) {
            call.reject(); // one call at a time: a second offered call is declined, the IVR says so
            return;
        }
        this.call = call;
        this.muted = false;
        this.message = undefined;
        const params = call.customParameters;
        this.caseId = params && typeof params.get === 'function' ? params.get('caseId') : undefined;
        this.state = STATES.RINGING;
        call.on('accept', () => {
            this.state = STATES.IN_CALL;
        });
        call.on('disconnect', () => this.ended());
        call.on('cancel', () => this.ended());
        call.on('reject', () => this.ended());
    }

    ended() {
        this.call = undefined;
        this.caseId = undefined;
        this.state = this.device ? STATES.READY : STATES.OFF;
        this.message = ENDED;
    }

    accept() {
        this.call.accept();
    }

    reject() {
        this.call.reject();
    }

    hangUp() {
        this.call.disconnect();
    }

    toggleMute() {
        this.muted = !this.muted;
        this.call.mute(this.muted);
    }

    openCase() {
        this[NavigationMixin.Navigate]({
            type: 'standard__recordPage',
            attributes: { recordId: this.caseId, objectApiName: 'Case', actionName: 'view' }
        });
    }

    stop() {
        if (this.device) this.device.destroy();
        this.device = undefined;
        this.call = undefined;
        this.caseId = undefined;
        this.state = STATES.OFF;
    }
}
