// The chargeback Function App: Flex Consumption plan, runtime `custom` (the
// Rust binary `chargeback` named in host.json), a user-assigned identity for
// everything it reaches, and the package deployed from a blob container.
//
// `appSettings` below is the one list of settings the app gets on Azure.
// infra/check/app_settings.py compares it with `chargeback settings` (what the
// code reads): add a setting in both places or the check fails.

@description('Azure region of the resources.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Flex Consumption plan name.')
param planName string

@description('Function App name.')
param functionAppName string

@description('azd service name; azd finds the app to deploy to by this tag.')
param serviceName string = 'chargeback'

@description('Resource id, principal id and client id of the user-assigned identity (identity.bicep).')
param identityId string
param identityPrincipalId string
param identityClientId string

@description('Storage account for host state, the deployment package and the app data.')
param storageAccountName string

@description('URL of the blob container holding the deployment package.')
param deploymentContainerUrl string

@description('Application Insights the host writes to.')
param applicationInsightsName string

@description('Event Hubs namespace FQDN, hub and consumer group of the ingest-usage trigger.')
param eventHubFullyQualifiedNamespace string
param eventHubName string
param eventHubConsumerGroup string

@description('Versionless Key Vault secret URI of the fingerprint key.')
param fingerprintSecretUri string

@description('Versionless Key Vault secret URI of DATABASE_URL.')
param databaseUrlSecretUri string

@description('Versionless Key Vault secret URI of CHARGEBACK_API_KEY (unused under the host; see docs/api.md).')
param apiKeySecretUri string

@description('Port DATABASE_URL points at: 6432 is the built-in PgBouncer (statement cache off), 5432 the server itself.')
param postgresPort int = 6432

@description('Where the ledger lives (CHARGEBACK_LEDGER): postgres (PostgreSQL through PgBouncer, the higher ingest rates) or table (Table Storage, by identity; docs/storage.md says when it suffices).')
@allowed(['postgres', 'table', 'sqlite'])
param ledger string = 'postgres'

@description('Chargeback tenant the app books usage under when a record names none (CHARGEBACK_TENANT).')
param chargebackTenant string = 'default'

@description('Applications and the business units they are charged to (CHARGEBACK_APPLICATIONS; format in docs/deploy.md).')
param chargebackApplications string = ''

@description('The month\'s Azure Cost Management FOCUS cost export the monthly rollup reconciles with (CHARGEBACK_INVOICE_FILE; {month} = YYYY-MM; docs/chargeback.md). Empty: no reconciliation.')
param chargebackInvoiceFile string = ''

@description('Log filter for the handler (RUST_LOG).')
param rustLog string = 'info'

@description('Most instances Flex Consumption may run. Each holds its own database pool: see "Connection arithmetic" in docs/deploy.md.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource telemetryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// Settings read by the host (storage, telemetry, trigger connection details)
// and by the handler. FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION
// are not set: Flex takes the runtime from functionAppConfig and rejects them.
var appSettings = {
  // Host storage by identity: no connection string, no account key. The
  // handler reads the same three settings for its own stores (Tables, Blobs,
  // Queues) and gets bearer tokens of the same identity.
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Telemetry with Entra auth (the component has local auth disabled).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The ingest-usage trigger (function.json: connection EventHubConnection).
  EventHubConnection__fullyQualifiedNamespace: eventHubFullyQualifiedNamespace
  EventHubConnection__credential: 'managedidentity'
  EventHubConnection__clientId: identityClientId
  EVENTHUB_NAME: eventHubName
  EVENTHUB_CONSUMER_GROUP: eventHubConsumerGroup
  // The handler.
  CHARGEBACK_TENANT: chargebackTenant
  CHARGEBACK_APPLICATIONS: chargebackApplications
  // Deployment → model CSV for streamed records without a model; empty: <data dir>/deployments.csv.
  CHARGEBACK_DEPLOYMENTS: ''
  // The user's prices over the shipped prices/azure-openai.csv (docs/chargeback.md); empty: the shipped prices.
  CHARGEBACK_PRICES: ''
  // How long a call from APIM's resource logs waits for its caller (docs/record-format.md section 4).
  CHARGEBACK_ATTRIBUTION_GRACE: '60m'
  // Largest invocation body from the host (docs/deploy.md): maxEventBatchSize 100 x 1 MiB x 4 + 1 MiB.
  CHARGEBACK_MAX_INVOCATION_BYTES: '420478976'
  // The weekly prices-sync timer: the Retail Prices API (empty: Microsoft's), its currency, the regions
  // to read (empty: the deployment file's) and the meter mapping file (empty: none). docs/chargeback.md.
  CHARGEBACK_PRICES_ENDPOINT: ''
  CHARGEBACK_PRICES_CURRENCY: 'USD'
  CHARGEBACK_PRICES_REGIONS: ''
  CHARGEBACK_METER_MAPPING: ''
  // The month's Azure Cost Management FOCUS export ({month} = YYYY-MM) the rollup reconciles with; empty: none.
  CHARGEBACK_INVOICE_FILE: chargebackInvoiceFile
  // 'true': the rollup adds the reconciliation's correction lines to the month's reports.
  CHARGEBACK_INVOICE_TRUE_UP: 'false'
  CHARGEBACK_DATA_DIR: '/tmp/chargeback'
  CHARGEBACK_FINGERPRINT_SECRET: '@Microsoft.KeyVault(SecretUri=${fingerprintSecretUri})'
  CHARGEBACK_LEDGER: ledger
  // Built in main.bicep: the identity's name as the user and no password. Kept
  // in Key Vault all the same, because the setting may hold a password elsewhere.
  DATABASE_URL: '@Microsoft.KeyVault(SecretUri=${databaseUrlSecretUri})'
  // The password is an Entra token of the app identity, refreshed before it expires.
  CHARGEBACK_DB__credential: 'managedidentity'
  CHARGEBACK_DB__clientId: identityClientId
  // 0 through PgBouncer (transaction mode keeps no named prepared statements).
  CHARGEBACK_DB_STATEMENT_CACHE: (postgresPort == 6432) ? '0' : '100'
  // Nightly maintenance thresholds and budget (docs/operations.md); empty: the defaults.
  CHARGEBACK_MAINTENANCE: ''
  // The HTTP API: under the host the host checks function keys (authLevel
  // function); these only apply to `chargeback serve` without the host.
  CHARGEBACK_API_KEY: '@Microsoft.KeyVault(SecretUri=${apiKeySecretUri})'
  CHARGEBACK_API_AUTH: 'key'
  RUST_LOG: rustLog
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
  }
  dependsOn: [telemetryRole]
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: appSettings
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
