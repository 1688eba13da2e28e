import { createElement } from 'lwc';
import LineIssueSupportId from 'c/lineIssueSupportId';
import issueSupportId from '@salesforce/apex/LineSupportIdService.issueSupportId';

// lightning/actions has no stub in sfdx-lwc-jest: its event, as the platform names it.
jest.mock(
    'lightning/actions',
    () => ({
        CloseActionScreenEvent: class extends CustomEvent {
            constructor() {
                super('close');
            }
        }
    }),
    { virtual: true }
);
jest.mock('@salesforce/apex/LineSupportIdService.issueSupportId', () => ({ default: jest.fn() }), { virtual: true });

const flush = () => Array.from({ length: 10 }).reduce((p) => p.then(() => undefined), Promise.resolve());
const $ = (element, selector) => element.shadowRoot.querySelector(selector);

function mount(recordId = '003000000000001AAA') {
    const element = createElement('c-line-issue-support-id', { is: LineIssueSupportId });
    element.recordId = recordId;
    document.body.appendChild(element);
    return element;
}

function change(input, props) {
    Object.assign(input, props);
    input.dispatchEvent(new CustomEvent('change'));
}

afterEach(() => {
    while (document.body.firstChild) document.body.removeChild(document.body.firstChild);
    jest.clearAllMocks();
});

describe('c-line-issue-support-id', () => {
    it('issues a single-use ID for 30 days by default and shows it once', async () => {
        issueSupportId.mockResolvedValue({ supportId: '7K4Q-9MX2-PD3R', expiresAt: '2027-01-06T05:00:00.000Z' });
        const element = mount();
        await flush();
        $(element, 'lightning-button.issue').click();
        await flush();
        expect(issueSupportId).toHaveBeenCalledWith({ recordId: '003000000000001AAA', validDays: 30, reusable: false, entitled: false });
        expect($(element, '.support-id').textContent).toBe('7K4Q-9MX2-PD3R');
        expect($(element, '.instructions').textContent).toBe('Give this ID to the customer now: it is not shown again.');
        expect($(element, 'lightning-button.issue')).toBeNull();
    });

    it('issues a reusable ID for an entitled customer for the days the admin chose', async () => {
        issueSupportId.mockResolvedValue({ supportId: 'AB12-CD34-EF56', expiresAt: '2026-12-14T05:00:00.000Z' });
        const element = mount('001000000000001AAA');
        await flush();
        change($(element, 'lightning-input.days'), { value: '7' });
        change($(element, 'lightning-input.reusable'), { checked: true });
        change($(element, 'lightning-input.entitled'), { checked: true });
        $(element, 'lightning-button.issue').click();
        await flush();
        expect(issueSupportId).toHaveBeenCalledWith({ recordId: '001000000000001AAA', validDays: 7, reusable: true, entitled: true });
    });

    it('shows why an ID could not be issued and lets the user try again', async () => {
        issueSupportId.mockRejectedValue({ body: { message: 'A support ID is valid for 1 to 3650 days.' } });
        const element = mount();
        await flush();
        $(element, 'lightning-button.issue').click();
        await flush();
        expect($(element, '.error').textContent).toBe('A support ID is valid for 1 to 3650 days.');
        expect($(element, 'lightning-button.issue')).not.toBeNull();
    });

    it('closes the action', async () => {
        const element = mount();
        const closed = jest.fn();
        element.addEventListener('close', closed);
        await flush();
        $(element, 'lightning-button.close').click();
        expect(closed).toHaveBeenCalled();
    });
});
