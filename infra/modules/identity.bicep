// The Function App's user-assigned managed identity. It exists before the app
// so that its roles (storage, Event Hubs, Key Vault, Application Insights,
// PostgreSQL admin) are in place when the app first starts.

@description('Azure region of the resources.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Identity name; also the PostgreSQL role name the app logs in as.')
param identityName string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
