// The Function App's storage account: host state (leases, checkpoints, timer
// monitors), the deployment package container Flex Consumption deploys from,
// and the app's own ledger (Tables), dead letters and reports (Blobs), the
// Event Hubs Capture container, and the rollup's and the budget alerts' queues. Shared-key access is off: everything goes through
// Entra ID, so the roles below are the only way in.

@description('Azure region of the resources.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Storage account name (3-24 lowercase letters and digits).')
param storageAccountName string

@description('Blob container Flex Consumption deploys the app package from.')
param deploymentContainerName string

@description('Blob container Event Hubs Capture writes every event to (event-hubs.bicep), read by `chargeback backfill --capture`.')
param captureContainerName string = 'capture'

@description('Queues of the functions\' bindings: rollup-chunk and rollup-finish listen on the first two, budget-alerts writes the third (see their function.json).')
param queueNames array = ['rollup-chunks', 'rollup-finish', 'budget-alerts']

@description('Principal (the Function App\'s managed identity) that gets data-plane roles.')
param appPrincipalId string

@description('Deploying user or CI principal; gets the same roles so azd can upload the package. Empty to skip.')
param deployerPrincipalId string = ''

@allowed(['User', 'ServicePrincipal', 'Group'])
param deployerPrincipalType string = 'User'

// Built-in role ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource captureContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: captureContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for name in queueNames: {
    parent: queueService
    name: name
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

var appRoles = [storageBlobDataOwner, storageQueueDataContributor, storageTableDataContributor]

resource appRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in appRoles: {
    name: guid(storage.id, appPrincipalId, roleId)
    scope: storage
    properties: {
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

resource deployerRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in (empty(deployerPrincipalId) ? [] : appRoles): {
    name: guid(storage.id, deployerPrincipalId, roleId)
    scope: storage
    properties: {
      principalId: deployerPrincipalId
      principalType: deployerPrincipalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output captureContainerName string = captureContainer.name
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainer.name}'
