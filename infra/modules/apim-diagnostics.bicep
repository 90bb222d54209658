// The alternative to our log-to-eventhub policy: API Management's own
// generative-AI gateway logs, streamed to the usage hub by a diagnostic
// setting (docs/deploy.md "Usage from APIM's resource logs").
//
// - The diagnostic setting on the APIM instance sends both categories to the
//   hub: GatewayLlmLogs (tokens, no caller) and GatewayLogs (caller, no
//   tokens). The handler joins them by correlation id (docs/record-format.md,
//   section 4).
// - The API diagnostic `azuremonitor` on the Azure OpenAI API switches the
//   LLM logs on for that API (largeLanguageModel), and logs the backend
//   response headers that say where a spilled call was served.
//
// Azure Monitor streams to Event Hubs with a namespace authorization rule
// (SAS): it cannot use Entra ID for this, so the namespace keeps local auth on
// when this module is used (event-hubs.bicep, diagnosticSender).

@description('API Management service name.')
param apimName string

@description('The Azure OpenAI API in APIM whose calls are logged.')
param apiName string = 'azure-openai'

@description('Namespace authorization rule Azure Monitor sends with (event-hubs.bicep output diagnosticRuleId).')
param eventHubAuthorizationRuleId string

@description('The usage hub.')
param eventHubName string

@description('Also log prompts and completions (up to 32 KB each per entry, larger ones in chunks). Chargeback needs only the counts; messages are never kept by the handler.')
param logMessages bool = false

@description('Bytes of the backend response body to log (0-8192). With a few hundred the response\'s service_tier usually shows; 0 keeps completions out of the logs.')
@minValue(0)
@maxValue(8192)
param responseBodyBytes int = 0

resource apim 'Microsoft.ApiManagement/service@2024-05-01' existing = {
  name: apimName
}

resource api 'Microsoft.ApiManagement/service/apis@2024-05-01' existing = {
  parent: apim
  name: apiName
}

resource gatewayLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'chargeback-gateway-logs'
  scope: apim
  properties: {
    eventHubAuthorizationRuleId: eventHubAuthorizationRuleId
    eventHubName: eventHubName
    logs: [
      {
        category: 'GatewayLlmLogs'
        enabled: true
      }
      {
        category: 'GatewayLogs'
        enabled: true
      }
    ]
  }
}

// The built-in Azure Monitor logger the resource logs are written through.
resource azureMonitorLogger 'Microsoft.ApiManagement/service/loggers@2024-05-01' = {
  parent: apim
  name: 'azuremonitor'
  properties: {
    loggerType: 'azureMonitor'
    isBuffered: true
  }
}

var spilloverHeaders = ['x-ms-deployment-name', 'x-ms-spillover-from-deployment', 'x-ms-spillover-error']

var messageSettings = {
  messages: 'all'
  maxSizeInBytes: 32768
}

// Counts always; messages only when asked for.
var llmCountsOnly = {
  logs: 'enabled'
}
var llmWithMessages = {
  logs: 'enabled'
  requests: messageSettings
  responses: messageSettings
}

resource apiDiagnostic 'Microsoft.ApiManagement/service/apis/diagnostics@2024-10-01-preview' = {
  parent: api
  name: 'azuremonitor'
  properties: {
    loggerId: azureMonitorLogger.id
    alwaysLog: 'allErrors'
    logClientIp: false
    verbosity: 'information'
    sampling: {
      samplingType: 'fixed'
      // Every call: a sampled log would bill a sample of the calls.
      percentage: 100
    }
    frontend: {
      request: {
        headers: []
        body: {
          bytes: 0
        }
      }
      response: {
        headers: []
        body: {
          bytes: 0
        }
      }
    }
    backend: {
      request: {
        headers: []
        body: {
          bytes: 0
        }
      }
      response: {
        headers: spilloverHeaders
        body: {
          bytes: responseBodyBytes
        }
      }
    }
    largeLanguageModel: logMessages ? llmWithMessages : llmCountsOnly
  }
  dependsOn: [gatewayLogs]
}

output diagnosticSettingName string = gatewayLogs.name
