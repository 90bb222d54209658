// One Azure OpenAI account and its chat deployment. main.bicep uses it twice:
// the provisioned (PTU) account that premium callers use first, and the
// standard account in another region that takes the spill-over.
//
// Local (key) auth is disabled: only Entra identities with a role on the
// account can call it, and the only one given a role (in apim.bicep) is API
// Management's, so clients cannot go around APIM with a key.

@description('Azure region of the account.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Account name; also its custom subdomain (<name>.openai.azure.com). The usage record\'s `backend` is this name.')
param accountName string

@description('Deployment name. Both accounts use the same name so a spilled call keeps its URL.')
param deploymentName string

@description('Model name, e.g. gpt-4o.')
param modelName string

@description('Model version, e.g. 2024-08-06.')
param modelVersion string

@description('Deployment SKU: ProvisionedManaged (or GlobalProvisionedManaged) for PTU, Standard or GlobalStandard otherwise.')
param deploymentSku string

@description('Capacity: PTUs for provisioned SKUs, thousands of tokens per minute for standard ones.')
param capacity int

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: accountName
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource deployment 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: deploymentName
  sku: {
    name: deploymentSku
    capacity: capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: modelName
      version: modelVersion
    }
  }
}

output name string = account.name
output endpoint string = 'https://${accountName}.openai.azure.com/'
output id string = account.id
