// Event Hubs namespace, the hub APIM's log-to-eventhub writes usage records to,
// and the consumer group the ingest-usage function reads with. Local (SAS) auth
// is off: APIM sends (its role is in apim.bicep) and the Function App receives
// with managed identities. The one exception is the diagnostic-setting
// alternative (apim-diagnostics.bicep): Azure Monitor streams resource logs to
// Event Hubs only with a namespace authorization rule, so with
// diagnosticSender local auth stays on and a send-only rule is created.
//
// Capture is on: every event is also written, as Avro, to the app's storage
// account (container `capture`, Capture's default name format), so a batch the
// host gave up on after its retries can be replayed exactly with
// `chargeback backfill --capture` (docs/operations.md, "Replay from Capture").
// The namespace writes with its own system-assigned identity.

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

@description('Storage account (in this resource group) Capture writes to: the app\'s own.')
param captureStorageAccountName string

@description('Blob container Capture writes to (created by storage.bicep).')
param captureContainerName string = 'capture'

@description('Capture window: a file per partition at least this often (60-900 s) ...')
@minValue(60)
@maxValue(900)
param captureIntervalSeconds int = 300

@description('... or when this many bytes have arrived (10-500 MiB).')
@minValue(10485760)
@maxValue(524288000)
param captureSizeLimitBytes int = 314572800

@description('Whether Azure Monitor streams APIM resource logs here (usageSource diagnostic-setting): keeps local auth on and creates a send-only rule for it.')
param diagnosticSender bool = false

var eventHubsDataReceiver = 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: throughputUnits
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    disableLocalAuth: !diagnosticSender
    minimumTlsVersion: '1.2'
  }
}

resource captureAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: captureStorageAccountName
}

// Capture writes blobs with the namespace's identity (the account allows no shared key).
resource captureWriterRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(captureAccount.id, namespace.id, storageBlobDataContributor)
  scope: captureAccount
  properties: {
    principalId: namespace.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: eventHubName
  dependsOn: [captureWriterRole]
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: 7
    captureDescription: {
      enabled: true
      encoding: 'Avro'
      intervalInSeconds: captureIntervalSeconds
      sizeLimitInBytes: captureSizeLimitBytes
      skipEmptyArchives: true
      destination: {
        name: 'EventHubArchive.AzureBlockBlob'
        identity: {
          type: 'SystemAssigned'
        }
        properties: {
          storageAccountResourceId: captureAccount.id
          blobContainer: captureContainerName
          // Capture's default; `chargeback backfill` reads the partition from it.
          archiveNameFormat: '{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}'
        }
      }
    }
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
output captureContainerName string = captureContainerName
output diagnosticRuleId string = diagnosticSender ? diagnosticRule.id : ''
