/**
 * All logic lives in LineChatMessageTriggerHandler (one trigger per object, no logic here).
 */
trigger LineChatMessageTrigger on LINE_Chat_Message__c(
    before insert,
    after insert,
    before update,
    after update
) {
    new LineChatMessageTriggerHandler().run();
}
