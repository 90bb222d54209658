// API Management in front of Azure OpenAI: the Azure OpenAI API with the
// policies in infra/apim/, the logger that sends usage records to Event Hubs,
// the backends (provisioned first, standard on 429) and two products that are
// the two tiers. APIM's system identity is the only caller of Azure OpenAI and
// the only sender to the usage hub.

@description('Azure region of the resources.')
param location string

@description('Tags put on every resource.')
param tags object

@description('API Management service name.')
param apimName string

@description('APIM SKU. Backend pools with circuit breakers and the token-limit policies need a v2 tier or Developer/Premium.')
@allowed(['Developer', 'BasicV2', 'StandardV2', 'Premium', 'PremiumV2'])
param skuName string = 'StandardV2'

@description('Publisher contact shown in the developer portal.')
param publisherEmail string
param publisherName string

@description('Azure OpenAI accounts (same resource group): provisioned first, standard (other region) for spill-over.')
param ptuAccountName string
param standardAccountName string

@description('Regions of the two accounts (e.g. swedencentral). They must differ: the usage record falls back to the region to name the serving account.')
param ptuLocation string
param standardLocation string

@description('Event Hubs namespace and hub the usage records go to.')
param eventHubNamespaceName string
param eventHubName string

@description('Chargeback tenant written into every record (named value chargeback-tenant).')
param chargebackTenant string = 'default'

@description('Entra tenant, client application and audience accepted by validate-azure-ad-token when a caller sends a bearer token.')
param entraTenantId string = tenant().tenantId
param entraClientAppId string = '00000000-0000-0000-0000-000000000000'
param entraAudience string = 'api://chargeback-openai'

@description('Token limit per APIM subscription: tokens per minute (429 above) and per calendar month (403 above).')
param tokensPerMinute int = 50000
param tokenQuotaMonthly int = 50000000

@description('Ceiling for max_tokens / max_completion_tokens on synchronous calls.')
param maxTokensCeiling int = 4096

@description('Whether the policy writes usage.v1 records (off when APIM\'s resource logs are the usage source, apim-diagnostics.bicep).')
param policyRecords bool = true

var cognitiveServicesOpenAiUser = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'
var eventHubsDataSender = '2b629674-e913-4c01-ae53-ef4638d8f975'

resource apim 'Microsoft.ApiManagement/service@2024-05-01' = {
  name: apimName
  location: location
  tags: tags
  sku: {
    name: skuName
    capacity: 1
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    publisherEmail: publisherEmail
    publisherName: publisherName
  }
}

// --- APIM may call Azure OpenAI and send to the usage hub; nobody else is given either.

resource ptuAccount 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: ptuAccountName
}

resource standardAccount 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: standardAccountName
}

resource eventHubNamespace 'Microsoft.EventHub/namespaces@2024-01-01' existing = {
  name: eventHubNamespaceName
}

resource eventHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' existing = {
  parent: eventHubNamespace
  name: eventHubName
}

resource ptuCaller 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(ptuAccount.id, apim.id, cognitiveServicesOpenAiUser)
  scope: ptuAccount
  properties: {
    principalId: apim.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesOpenAiUser)
  }
}

resource standardCaller 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(standardAccount.id, apim.id, cognitiveServicesOpenAiUser)
  scope: standardAccount
  properties: {
    principalId: apim.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesOpenAiUser)
  }
}

resource usageSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventHub.id, apim.id, eventHubsDataSender)
  scope: eventHub
  properties: {
    principalId: apim.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventHubsDataSender)
  }
}

// --- Logger used by log-to-eventhub (logger-id="chargeback-usage"), by identity.

resource usageLogger 'Microsoft.ApiManagement/service/loggers@2024-05-01' = {
  parent: apim
  name: 'chargeback-usage'
  properties: {
    loggerType: 'azureEventHub'
    description: 'Usage records (usage.v1) for chargeback'
    isBuffered: true
    resourceId: eventHub.id
    credentials: {
      endpointAddress: '${eventHubNamespaceName}.servicebus.windows.net'
      identityClientId: 'SystemAssigned'
      name: eventHubName
    }
  }
  dependsOn: [usageSender]
}

// --- Named values used as {{name}} in the policies.

var namedValues = {
  'chargeback-tenant': chargebackTenant
  'entra-tenant-id': entraTenantId
  'entra-client-app-id': entraClientAppId
  'entra-audience': entraAudience
  'tokens-per-minute': string(tokensPerMinute)
  'token-quota-monthly': string(tokenQuotaMonthly)
  'max-tokens-ceiling': string(maxTokensCeiling)
  'backend-by-region': '${toLower(ptuLocation)}=${ptuAccountName};${toLower(standardLocation)}=${standardAccountName}'
  'chargeback-policy-records': policyRecords ? 'on' : 'off'
}

resource policyValues 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = [
  for item in items(namedValues): {
    parent: apim
    name: item.key
    properties: {
      displayName: item.key
      value: item.value
      secret: false
    }
  }
]

// --- Backends: each account trips out of rotation for the Retry-After it
// sends with a 429; the pool then serves from the next priority.

var throttlingBreaker = {
  rules: [
    {
      name: 'throttled'
      acceptRetryAfter: true
      tripDuration: 'PT10S'
      failureCondition: {
        count: 1
        interval: 'PT10S'
        statusCodeRanges: [
          {
            min: 429
            max: 429
          }
        ]
      }
    }
  ]
}

resource ptuBackend 'Microsoft.ApiManagement/service/backends@2024-05-01' = {
  parent: apim
  name: 'aoai-ptu'
  properties: {
    description: 'Provisioned (PTU) deployment: ${ptuAccountName}'
    type: 'Single'
    protocol: 'http'
    url: 'https://${ptuAccountName}.openai.azure.com/openai'
    circuitBreaker: throttlingBreaker
  }
}

resource standardBackend 'Microsoft.ApiManagement/service/backends@2024-05-01' = {
  parent: apim
  name: 'aoai-standard'
  properties: {
    description: 'Standard deployment (spill-over region): ${standardAccountName}'
    type: 'Single'
    protocol: 'http'
    url: 'https://${standardAccountName}.openai.azure.com/openai'
    circuitBreaker: throttlingBreaker
  }
}

resource ptuFirstPool 'Microsoft.ApiManagement/service/backends@2024-05-01' = {
  parent: apim
  name: 'aoai-ptu-first'
  properties: {
    description: 'Premium tier: provisioned capacity first, standard on 429'
    type: 'Pool'
    pool: {
      services: [
        {
          id: '/backends/${ptuBackend.name}'
          priority: 1
          weight: 1
        }
        {
          id: '/backends/${standardBackend.name}'
          priority: 2
          weight: 1
        }
      ]
    }
  }
}

// --- The API, its policy and the fragment that writes the usage record.

resource usageFragment 'Microsoft.ApiManagement/service/policyFragments@2024-05-01' = {
  parent: apim
  name: 'chargeback-usage-record'
  properties: {
    description: 'Sends one usage.v1 record per call to Event Hubs (infra/apim/usage-record.fragment.xml)'
    format: 'xml'
    value: loadTextContent('../apim/usage-record.fragment.xml')
  }
  dependsOn: [usageLogger, policyValues]
}

resource openAiApi 'Microsoft.ApiManagement/service/apis@2024-05-01' = {
  parent: apim
  name: 'azure-openai'
  properties: {
    displayName: 'Azure OpenAI'
    path: 'openai'
    protocols: ['https']
    serviceUrl: 'https://${standardAccountName}.openai.azure.com/openai'
    subscriptionRequired: true
    subscriptionKeyParameterNames: {
      header: 'api-key'
      query: 'api-key'
    }
  }
}

var operations = [
  {
    name: 'chat-completions'
    displayName: 'Chat completions'
    urlTemplate: '/deployments/{deployment-id}/chat/completions'
  }
  {
    name: 'completions'
    displayName: 'Completions'
    urlTemplate: '/deployments/{deployment-id}/completions'
  }
  {
    name: 'embeddings'
    displayName: 'Embeddings'
    urlTemplate: '/deployments/{deployment-id}/embeddings'
  }
]

resource apiOperations 'Microsoft.ApiManagement/service/apis/operations@2024-05-01' = [
  for op in operations: {
    parent: openAiApi
    name: op.name
    properties: {
      displayName: op.displayName
      method: 'POST'
      urlTemplate: op.urlTemplate
      templateParameters: [
        {
          name: 'deployment-id'
          type: 'string'
          required: true
        }
      ]
    }
  }
]

resource apiPolicy 'Microsoft.ApiManagement/service/apis/policies@2024-05-01' = {
  parent: openAiApi
  name: 'policy'
  properties: {
    format: 'xml'
    value: loadTextContent('../apim/openai-api.xml')
  }
  dependsOn: [usageFragment, ptuFirstPool, policyValues, apiOperations, ptuCaller, standardCaller]
}

// --- Tiers. A subscription to openai-premium routes to the PTU-first pool.

var productNames = ['openai-standard', 'openai-premium']

resource products 'Microsoft.ApiManagement/service/products@2024-05-01' = [
  for name in productNames: {
    parent: apim
    name: name
    properties: {
      displayName: name == 'openai-premium' ? 'Azure OpenAI (premium: provisioned capacity)' : 'Azure OpenAI (standard)'
      subscriptionRequired: true
      approvalRequired: true
      state: 'published'
    }
  }
]

resource productApis 'Microsoft.ApiManagement/service/products/apis@2024-05-01' = [
  for (name, i) in productNames: {
    parent: products[i]
    name: openAiApi.name
  }
]

output name string = apim.name
output gatewayUrl string = apim.properties.gatewayUrl
output principalId string = apim.identity.principalId
