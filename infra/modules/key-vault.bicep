// Key Vault for the app's one secret, the fingerprint key (HMAC key used to
// pseudonymise raw subscription keys found in legacy records). The Function
// App reads it through a Key Vault reference with its managed identity.
// The vault uses Azure RBAC, not access policies.

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

@description('Principal that reads the secret (the Function App identity).')
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
// Versionless URI: the app always gets the current version of the secret.
output fingerprintSecretUri string = '${vault.properties.vaultUri}secrets/${fingerprintSecretName}'
