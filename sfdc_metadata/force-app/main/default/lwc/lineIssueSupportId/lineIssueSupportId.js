import { LightningElement, api } from 'lwc';
import { CloseActionScreenEvent } from 'lightning/actions';
import issueSupportId from '@salesforce/apex/LineSupportIdService.issueSupportId';
import TITLE from '@salesforce/label/c.LINE_Support_Id_Title';
import VALID_DAYS from '@salesforce/label/c.LINE_Support_Id_Valid_Days';
import REUSABLE from '@salesforce/label/c.LINE_Support_Id_Reusable';
import ENTITLED from '@salesforce/label/c.LINE_Support_Id_Entitled';
import ISSUE from '@salesforce/label/c.LINE_Support_Id_Issue';
import SHOW_ONCE from '@salesforce/label/c.LINE_Support_Id_Show_Once';
import EXPIRES from '@salesforce/label/c.LINE_Support_Id_Expires';
import CLOSE from '@salesforce/label/c.LINE_Support_Id_Close';

function reduceError(error) {
    return (error && error.body && error.body.message) || (error && error.message) || 'Unknown error';
}

/**
 * Quick action on a Contact or an Account: issues a LINE support ID (LineSupportIdService) and
 * shows it once, to be given to the customer; Salesforce keeps only its hash.
 */
export default class LineIssueSupportId extends LightningElement {
    @api recordId;
    labels = {
        title: TITLE,
        validDays: VALID_DAYS,
        reusable: REUSABLE,
        entitled: ENTITLED,
        issue: ISSUE,
        showOnce: SHOW_ONCE,
        expires: EXPIRES,
        close: CLOSE
    };
    validDays = 30;
    reusable = false;
    entitled = false;
    busy = false;
    issued;
    error;

    get canIssue() {
        return !this.issued;
    }

    handleDays(event) {
        this.validDays = Number(event.target.value);
    }

    handleReusable(event) {
        this.reusable = event.target.checked;
    }

    handleEntitled(event) {
        this.entitled = event.target.checked;
    }

    async handleIssue() {
        this.busy = true;
        this.error = undefined;
        try {
            this.issued = await issueSupportId({
                recordId: this.recordId,
                validDays: this.validDays,
                reusable: this.reusable,
                entitled: this.entitled
            });
        } catch (error) {
            this.error = reduceError(error);
        } finally {
            this.busy = false;
        }
    }

    handleClose() {
        this.dispatchEvent(new CloseActionScreenEvent());
    }
}
