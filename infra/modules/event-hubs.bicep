// Event Hubs namespace, the hub APIM's log-to-eventhub writes usage records to,
// and the consumer group the ingest-usage function reads with. Local (SAS) auth
// is off: APIM sends (its role is in apim.bicep) and the Function App receives
// with managed identities. The one exception is the diagnostic-setting
// alternative (apim-diagnostics.bicep): Azure Monitor streams resource logs to
// Event Hubs only with a namespace authorization rule, so with
// diagnosticSender local auth stays on and a send-only rule is created.

@description('Azure region of the resources.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Event Hubs namespace name.')
param namespaceName string

@description('Hub that receives usage records (app setting EVENTHUB_NAME).')
param eventHubName string = 'usage'

@description('Consumer group of the ingest-usage function (app setting EVENTHUB_CONSUMER_GROUP).')
param consumerGroupName string = 'chargeback'

@description('Partitions: records of one APIM subscription share a partition, so this caps ingest parallelism.')
@minValue(1)
@maxValue(32)
param partitionCount int = 8

@description('Throughput units (1 TU = 1 MB/s or 1,000 events/s in).')
@minValue(1)
@maxValue(20)
param throughputUnits int = 1

@description('Principal that receives (the Function App identity).')
param receiverPrincipalId string

@description('Whether Azure Monitor streams APIM resource logs here (usageSource diagnostic-setting): keeps local auth on and creates a send-only rule for it.')
param diagnosticSender bool = false

var eventHubsDataReceiver = 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: throughputUnits
  }
  properties: {
    disableLocalAuth: !diagnosticSender
    minimumTlsVersion: '1.2'
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: eventHubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: 7
  }
}

// Send only: the diagnostic setting names the hub, so it needs neither Listen
// nor Manage.
resource diagnosticRule 'Microsoft.EventHub/namespaces/authorizationRules@2024-01-01' = if (diagnosticSender) {
  parent: namespace
  name: 'azure-monitor-send'
  properties: {
    rights: ['Send']
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: consumerGroupName
}

resource receiverRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, receiverPrincipalId, eventHubsDataReceiver)
  scope: hub
  properties: {
    principalId: receiverPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventHubsDataReceiver)
  }
}

output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output eventHubName string = hub.name
output eventHubId string = hub.id
output consumerGroupName string = consumerGroup.name
output diagnosticRuleId string = diagnosticSender ? diagnosticRule.id : ''
