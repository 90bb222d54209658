// Key Vault for the app's secrets: the fingerprint key (HMAC key used to
// pseudonymise raw subscription keys found in legacy records) and DATABASE_URL.
// The Function App reads them through Key Vault references with its managed
// identity. The vault uses Azure RBAC, not access policies.

@description('Azure region of the resources.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Key Vault name (3-24 characters).')
param keyVaultName string

@description('Name of the secret that holds CHARGEBACK_FINGERPRINT_SECRET.')
param fingerprintSecretName string = 'chargeback-fingerprint-secret'

@description('Value to write into the secret. Empty keeps the value already in the vault (set it once, then leave it: changing it changes every fingerprint).')
@secure()
param fingerprintSecret string = ''

@description('Name of the secret that holds DATABASE_URL.')
param databaseUrlSecretName string = 'chargeback-database-url'

@description('DATABASE_URL to store. It holds no password (the app logs in with Entra tokens), but the handler treats the setting as a secret, so it lives here like one.')
@secure()
param databaseUrl string

@description('Name of the secret that holds CHARGEBACK_API_KEY.')
param apiKeySecretName string = 'chargeback-api-key'

@description('CHARGEBACK_API_KEY: the key of the HTTP API when the handler runs without the Functions host. Under the host (always on Azure) the host checks its own function keys and the handler does not use it.')
@secure()
param apiKey string

@description('Principal that reads the secrets (the Function App identity).')
param readerPrincipalId string

@description('Deploying user or CI principal; may set the secret. Empty to skip.')
param officerPrincipalId string = ''

@allowed(['User', 'ServicePrincipal', 'Group'])
param officerPrincipalType string = 'User'

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

resource fingerprint 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(fingerprintSecret)) {
  parent: vault
  name: fingerprintSecretName
  properties: {
    value: fingerprintSecret
    contentType: 'HMAC key for CHARGEBACK_FINGERPRINT_SECRET'
  }
}

resource apiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: apiKeySecretName
  properties: {
    value: apiKey
    contentType: 'CHARGEBACK_API_KEY (standalone HTTP API key; unused under the Functions host)'
  }
}

resource databaseUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: databaseUrlSecretName
  properties: {
    value: databaseUrl
    contentType: 'DATABASE_URL (postgres:// URL) for the chargeback Function App'
  }
}

resource readerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

resource officerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(officerPrincipalId)) {
  name: guid(vault.id, officerPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: officerPrincipalId
    principalType: officerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
  }
}

output name string = vault.name
// Versionless URIs: the app always gets the current version of a secret.
output apiKeySecretUri string = '${vault.properties.vaultUri}secrets/${apiKeySecret.name}'
output fingerprintSecretUri string = '${vault.properties.vaultUri}secrets/${fingerprintSecretName}'
output databaseUrlSecretUri string = '${vault.properties.vaultUri}secrets/${databaseUrlSecret.name}'
