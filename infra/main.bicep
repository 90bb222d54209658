// The whole chargeback landing zone, deployed by `azd provision` (or `azd up`):
//
//   callers -> API Management (policies in apim/) -> Azure OpenAI (PTU + standard)
//                    | log-to-eventhub (usage.v1, by identity)
//                    v
//              Event Hubs -> Function App (Flex Consumption, custom handler)
//                              -> Storage (Tables ledger, Blobs, Queues)
//                              -> PostgreSQL (aggregates, via PgBouncer)
//              Application Insights / Log Analytics for all of it
//
// Every connection uses Entra ID and managed identities; no keys or passwords
// are created. docs/deploy.md walks through it and explains each parameter.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name (dev, prod, ...); part of every resource name.')
param environmentName string

@minLength(1)
@description('Region of everything except the spill-over Azure OpenAI account. Must offer Flex Consumption.')
param location string

@description('Object id of the user or CI principal running the deployment (azd sets AZURE_PRINCIPAL_ID). Gets data roles so it can upload the package and set the fingerprint secret.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal'])
@description('Kind of principalId: User for a person running azd, ServicePrincipal in CI.')
param principalType string = 'User'

@description('Display name (or UPN) of principalId, to make it the PostgreSQL Entra administrator; the postprovision hook then gives the app identity a principal with the least rights it needs. Empty: the app identity is the administrator.')
param principalName string = ''

// --- Azure OpenAI
@description('Region of the provisioned (PTU) account; the premium tier is served here first. Empty: location.')
param openAiPtuLocation string = ''

@description('Region of the standard account that takes the spill-over; another region than the PTU one.')
param openAiStandardLocation string

@description('Deployment name, the same in both accounts.')
param chatDeploymentName string = 'gpt-4o'
param chatModelName string = 'gpt-4o'
param chatModelVersion string = '2024-08-06'

@description('PTUs of the provisioned deployment, as a string because azd passes environment values as strings. 0 makes the "PTU" account a standard deployment too (dev environments without reserved capacity).')
param ptuCapacity string = '0'

@description('Standard deployment SKU and capacity (thousands of tokens per minute).')
@allowed(['Standard', 'GlobalStandard', 'DataZoneStandard'])
param standardDeploymentSku string = 'GlobalStandard'
param standardCapacity int = 50

// --- API Management
@description('APIM tier: a v2 tier (or Developer/Premium) for backend pools and the token-limit policy.')
@allowed(['Developer', 'BasicV2', 'StandardV2', 'Premium', 'PremiumV2'])
param apimSku string = 'StandardV2'
param publisherEmail string
param publisherName string = 'Chargeback'
param entraClientAppId string = '00000000-0000-0000-0000-000000000000'
param entraAudience string = 'api://chargeback-openai'
param tokensPerMinute int = 50000
param tokenQuotaMonthly int = 50000000
param maxTokensCeiling int = 4096

@description('Where usage records come from: our log-to-eventhub policy (usage.v1, recommended), or APIM\'s own generative-AI gateway logs through a diagnostic setting (docs/deploy.md).')
@allowed(['policy', 'diagnostic-setting'])
param usageSource string = 'policy'

// --- Event Hubs
param eventHubPartitionCount int = 8
param eventHubThroughputUnits int = 1

// --- Function App and data
@description('Most Function App instances (a string, see ptuCapacity). Each has its own database pool: docs/deploy.md "Connection arithmetic".')
param maximumInstanceCount string = '40'
param chargebackTenant string = 'default'
param chargebackApplications string = ''
@description('The month\'s Azure Cost Management FOCUS cost export the monthly rollup reconciles with ({month} = YYYY-MM). Empty: none.')
param chargebackInvoiceFile string = ''
param rustLog string = 'info'
param postgresSkuName string = 'Standard_D2ds_v5'
param pgbouncerDefaultPoolSize int = 50
param pgbouncerMaxClientConnections int = 5000

@secure()
@description('CHARGEBACK_API_KEY, the key of the HTTP API when the handler runs without the Functions host. On Azure the host checks its own function keys (authLevel function) and the handler does not use it, so a fresh random value each provision is fine.')
@secure()
param chargebackApiKey string = newGuid()

@description('Fingerprint HMAC key. Set it for the first provision only (azd env set CHARGEBACK_FINGERPRINT_SECRET ...); empty keeps the value in Key Vault.')
param fingerprintSecret string = ''

var ptuUnits = empty(ptuCapacity) ? 0 : int(ptuCapacity)
var ptuRegion = empty(openAiPtuLocation) ? location : openAiPtuLocation
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  app: 'chargeback'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-chargeback-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: rg
  name: 'identity'
  params: {
    location: location
    tags: tags
    identityName: 'id-chargeback-${resourceToken}'
  }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-chargeback-${resourceToken}'
    applicationInsightsName: 'appi-chargeback-${resourceToken}'
  }
}

module storage 'modules/storage.bicep' = {
  scope: rg
  name: 'storage'
  params: {
    location: location
    tags: tags
    storageAccountName: 'stcb${resourceToken}'
    deploymentContainerName: 'app-package'
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

module eventHubs 'modules/event-hubs.bicep' = {
  scope: rg
  name: 'event-hubs'
  params: {
    location: location
    tags: tags
    namespaceName: 'evhns-chargeback-${resourceToken}'
    partitionCount: eventHubPartitionCount
    throughputUnits: eventHubThroughputUnits
    receiverPrincipalId: identity.outputs.principalId
    captureStorageAccountName: storage.outputs.name
    captureContainerName: storage.outputs.captureContainerName
    diagnosticSender: usageSource == 'diagnostic-setting'
  }
}

var postgresDatabase = 'chargeback'
var postgresServerName = 'psql-chargeback-${resourceToken}'
// Through the built-in PgBouncer (6432). The user is the app identity's name;
// there is no password: the handler logs in with an Entra token of the
// identity (CHARGEBACK_DB__credential in function-app.bicep).
var postgresHost = '${postgresServerName}.postgres.database.azure.com'
var databaseUrl = 'postgres://${identity.outputs.name}@${postgresHost}:6432/${postgresDatabase}?sslmode=require'

module keyVault 'modules/key-vault.bicep' = {
  scope: rg
  name: 'key-vault'
  params: {
    location: location
    tags: tags
    keyVaultName: 'kv-cb-${resourceToken}'
    fingerprintSecret: fingerprintSecret
    databaseUrl: databaseUrl
    apiKey: chargebackApiKey
    readerPrincipalId: identity.outputs.principalId
    officerPrincipalId: principalId
    officerPrincipalType: principalType
  }
}

// The deployer administers the server and creates the app's own, narrower
// principal (infra/scripts/ensure-postgres-principal.sh). Without a deployer
// name the app identity has to be the administrator itself.
var deployerAdministrator = empty(principalId) || empty(principalName) ? [] : [
  {
    objectId: principalId
    name: principalName
    type: principalType
  }
]
var appAdministrator = [
  {
    objectId: identity.outputs.principalId
    name: identity.outputs.name
    type: 'ServicePrincipal'
  }
]

module postgres 'modules/postgres.bicep' = {
  scope: rg
  name: 'postgres'
  params: {
    location: location
    tags: tags
    serverName: postgresServerName
    databaseName: postgresDatabase
    skuName: postgresSkuName
    pgbouncerDefaultPoolSize: pgbouncerDefaultPoolSize
    pgbouncerMaxClientConnections: pgbouncerMaxClientConnections
    administrators: empty(deployerAdministrator) ? appAdministrator : deployerAdministrator
  }
}

module openAiPtu 'modules/openai.bicep' = {
  scope: rg
  name: 'openai-ptu'
  params: {
    location: ptuRegion
    tags: tags
    accountName: 'aoai-ptu-${resourceToken}'
    deploymentName: chatDeploymentName
    modelName: chatModelName
    modelVersion: chatModelVersion
    deploymentSku: ptuUnits > 0 ? 'ProvisionedManaged' : standardDeploymentSku
    capacity: ptuUnits > 0 ? ptuUnits : standardCapacity
  }
}

module openAiStandard 'modules/openai.bicep' = {
  scope: rg
  name: 'openai-standard'
  params: {
    location: openAiStandardLocation
    tags: tags
    accountName: 'aoai-std-${resourceToken}'
    deploymentName: chatDeploymentName
    modelName: chatModelName
    modelVersion: chatModelVersion
    deploymentSku: standardDeploymentSku
    capacity: standardCapacity
  }
}

module apim 'modules/apim.bicep' = {
  scope: rg
  name: 'apim'
  params: {
    location: location
    tags: tags
    apimName: 'apim-chargeback-${resourceToken}'
    skuName: apimSku
    publisherEmail: publisherEmail
    publisherName: publisherName
    ptuAccountName: openAiPtu.outputs.name
    standardAccountName: openAiStandard.outputs.name
    ptuLocation: ptuRegion
    standardLocation: openAiStandardLocation
    eventHubNamespaceName: eventHubs.outputs.namespaceName
    eventHubName: eventHubs.outputs.eventHubName
    chargebackTenant: chargebackTenant
    entraClientAppId: entraClientAppId
    entraAudience: entraAudience
    tokensPerMinute: tokensPerMinute
    tokenQuotaMonthly: tokenQuotaMonthly
    maxTokensCeiling: maxTokensCeiling
    policyRecords: usageSource == 'policy'
  }
}

module apimDiagnostics 'modules/apim-diagnostics.bicep' = if (usageSource == 'diagnostic-setting') {
  scope: rg
  name: 'apim-diagnostics'
  params: {
    apimName: apim.outputs.name
    eventHubAuthorizationRuleId: eventHubs.outputs.diagnosticRuleId
    eventHubName: eventHubs.outputs.eventHubName
  }
}

module functionApp 'modules/function-app.bicep' = {
  scope: rg
  name: 'function-app'
  params: {
    location: location
    tags: tags
    planName: 'plan-chargeback-${resourceToken}'
    functionAppName: 'func-chargeback-${resourceToken}'
    identityId: identity.outputs.id
    identityPrincipalId: identity.outputs.principalId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    eventHubFullyQualifiedNamespace: eventHubs.outputs.fullyQualifiedNamespace
    eventHubName: eventHubs.outputs.eventHubName
    eventHubConsumerGroup: eventHubs.outputs.consumerGroupName
    fingerprintSecretUri: keyVault.outputs.fingerprintSecretUri
    databaseUrlSecretUri: keyVault.outputs.databaseUrlSecretUri
    apiKeySecretUri: keyVault.outputs.apiKeySecretUri
    chargebackTenant: chargebackTenant
    chargebackApplications: chargebackApplications
    chargebackInvoiceFile: chargebackInvoiceFile
    rustLog: rustLog
    maximumInstanceCount: empty(maximumInstanceCount) ? 40 : int(maximumInstanceCount)
  }
}

// azd stores these in .azure/<env>/.env; docs/deploy.md uses them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output APIM_NAME string = apim.outputs.name
output APIM_GATEWAY_URL string = apim.outputs.gatewayUrl
output EVENTHUB_NAMESPACE string = eventHubs.outputs.fullyQualifiedNamespace
output EVENTHUB_NAME string = eventHubs.outputs.eventHubName
output EVENTHUB_CONSUMER_GROUP string = eventHubs.outputs.consumerGroupName
output CAPTURE_CONTAINER string = eventHubs.outputs.captureContainerName
output POSTGRES_HOST string = postgres.outputs.fullyQualifiedDomainName
output POSTGRES_DATABASE string = postgres.outputs.databaseName
output KEY_VAULT_NAME string = keyVault.outputs.name
output APP_IDENTITY_NAME string = identity.outputs.name
output APP_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output POSTGRES_APP_IS_ADMINISTRATOR bool = empty(deployerAdministrator)
