/**
 * All logic lives in LineChatSessionTriggerHandler (one trigger per object, no logic here).
 */
trigger LineChatSessionTrigger on LINE_Chat_Session__c(after update) {
    new LineChatSessionTriggerHandler().run();
}
